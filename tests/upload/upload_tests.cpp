// upload_tests - the path from a crash to a crash server, end to end: upload_target (an app
// with crashdrop and its helper) crashes or writes dumps; tools/collector.py stands in for the
// server; each test asserts on what the server actually received and on the database after.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <ctime>
#include <fstream>

#include "../support/json.hpp"
#include "../support/minidump_file.hpp"
#include "../support/process.hpp"
#include "../support/readers.hpp"
#include "../support/upload_support.hpp"

using namespace testsupport;

namespace {

const std::string k_work = UPLOAD_TEST_WORKDIR;
const std::string k_target = UPLOAD_TARGET;
const std::string k_external_helper = EXTERNAL_HELPER;

int mode_of(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

/// A fresh folder for one test.
std::string fresh(const std::string& name) { return fresh_folder(k_work + "/" + name); }

run_result run_app(const std::string& mode, const std::string& db, const std::vector<std::string>& args = {},
                   double timeout = 60) {
    std::vector<std::string> argv = {k_target, mode, db};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, timeout);
}

// ---- the crash context upload_target sets with context=1 (the same values it builds) ----

std::string long_value() {
    std::string v;
    char buf[16];
    for (int i = 0; i < 200; ++i) {
        snprintf(buf, sizeof(buf), "L%03d-", i);
        v += buf;
    }
    return v;
}
std::string crumb_message(int i) { return "step " + std::to_string(i) + " | 50% done \xc3\xa9t\xc3\xa9"; }
std::string crumb_category(int i) {
    static const char* const k[] = {"ui", "net", "app.state"};
    return k[i % 3];
}
std::string crumb_level(int i) {
    static const char* const k[] = {"debug", "info", "warning", "error", "fatal"};
    return k[i % 5];
}

/// UTC milliseconds now.
long long wall_ms() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

/// "2026-11-22T10:11:12.345Z" as UTC milliseconds; -1 if it is not exactly that shape.
long long parse_iso8601_ms(const std::string& s) {
    if (s.size() != 24) return -1;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char want = i == 4 || i == 7 ? '-' : i == 10 ? 'T' : i == 13 || i == 16 ? ':' : i == 19 ? '.' : i == 23 ? 'Z' : '0';
        if (want == '0' ? (s[i] < '0' || s[i] > '9') : s[i] != want) return -1;
    }
    std::tm tm{};
    tm.tm_year = std::atoi(s.substr(0, 4).c_str()) - 1900;
    tm.tm_mon = std::atoi(s.substr(5, 2).c_str()) - 1;
    tm.tm_mday = std::atoi(s.substr(8, 2).c_str());
    tm.tm_hour = std::atoi(s.substr(11, 2).c_str());
    tm.tm_min = std::atoi(s.substr(14, 2).c_str());
    tm.tm_sec = std::atoi(s.substr(17, 2).c_str());
    return static_cast<long long>(timegm(&tm)) * 1000 + std::atoi(s.substr(20, 3).c_str());
}

/// Writes a recognisable log of `size` bytes (numbered lines) and returns it.
std::string write_log(const std::string& path, std::size_t size, const std::string& tag = "log") {
    std::string text;
    for (int i = 0; text.size() < size; ++i) text += tag + " line " + std::to_string(i) + " of the application\n";
    text.resize(size);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return text;
}

constexpr std::size_t k_log_bytes = 5000;
constexpr std::size_t k_attachment_cap = 2048;  // max_attachment_bytes given to upload_target (its minimum is 1 KiB)

/// Checks the plain formats' context fields (crashpad and socorro): annotations with the long
/// one in 255-byte parts, tags, user, and the breadcrumbs of indices first..first+count-1.
void check_plain_context(const json& fields, int first, int count, long long from_ms, long long to_ms, bool with_scene = true) {
    if (with_scene) CHECK(fields["scene"].str() == "level-3");
    CHECK(fields["build"].str() == "nightly");
    CHECK(!fields.has("long"));  // sent in parts only
    const std::string want = long_value();
    REQUIRE(want.size() == 1000);
    std::string joined;
    for (int n = 1; n <= 4; ++n) {
        const std::string key = "long__" + std::to_string(n);
        INFO(key);
        REQUIRE(fields.has(key));
        CHECK(fields[key].str().size() == (n < 4 ? 255u : 1000u - 3 * 255u));
        joined += fields[key].str();
    }
    CHECK(!fields.has("long__0"));
    CHECK(!fields.has("long__5"));
    CHECK(joined == want);
    CHECK(fields["tag.region"].str() == "eu");
    CHECK(fields["tag.phase"].str() == "boss");
    CHECK(fields["user.id"].str() == "u-42");
    CHECK(fields["user.username"].str() == "ana");
    CHECK(fields["user.email"].str() == "ana@example.org");
    CHECK(!fields.has("user.ip_address"));  // empty fields are not sent
    CHECK(!fields.has("sentry"));
    // Breadcrumbs: one line each, oldest first, "<ISO 8601 UTC ms> <level> [<category>] <message>".
    REQUIRE(fields["breadcrumbs"].kind == json::string_v);
    const std::string text = fields["breadcrumbs"].str();
    INFO("breadcrumbs:\n" << text);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    auto lines = split(text, '\n');
    lines.pop_back();  // after the last newline
    REQUIRE(lines.size() == static_cast<std::size_t>(count));
    long long previous = 0;
    for (int k = 0; k < count; ++k) {
        const int i = first + k;
        const std::string& line = lines[static_cast<std::size_t>(k)];
        INFO("line " << k << ": " << line);
        REQUIRE(line.size() > 25);
        const long long ms = parse_iso8601_ms(line.substr(0, 24));
        CHECK(ms >= from_ms);
        CHECK(ms <= to_ms);
        CHECK(ms >= previous);
        previous = ms;
        CHECK(line.substr(24) == " " + crumb_level(i) + " [" + crumb_category(i) + "] " + crumb_message(i));
    }
}

/// The sentry part of request `i`, parsed.
json sentry_event(const json& fields) {
    REQUIRE(fields["sentry"].kind == json::string_v);
    bool parsed = false;
    json event = json::parse(fields["sentry"].str(), &parsed);
    INFO("sentry part: " << fields["sentry"].str());
    REQUIRE(parsed);
    REQUIRE(event.kind == json::object_v);
    return event;
}

}  // namespace

TEST_CASE("a crash reaches the server: fields and query and dump intact - gzip body decodes", "[upload]") {
    const std::string dir = fresh("intact");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result app = run_app("crash", db.root, {"url=" + server.url()});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const json req = server.request(0);
    CHECK(req["status"].integer() == 200);
    CHECK(req["content_encoding"].str() == "gzip");
    CHECK(req["decoded_bytes"].integer() > req["body_bytes"].integer());  // it was compressed
    CHECK(req["multipart_defects"].array.empty());
    CHECK(req["query"]["product"][0].str() == "UploadTarget");
    CHECK(req["query"]["version"][0].str() == "3.1.4");
    const json fields = server.fields(0);
    CHECK(fields["prod"].str() == "UploadTarget");
    CHECK(fields["ver"].str() == "3.1.4");
    CHECK(fields["_productName"].str() == "UploadTarget");
    CHECK(fields["_version"].str() == "3.1.4");
    CHECK(fields["platform"].str() == "linux");
    CHECK(fields["guid"].str().size() == 36);
    CHECK(req["query"]["guid"][0].str() == fields["guid"].str());
    // The database: the report moved to completed/ as uploaded, with the server's reply as id.
    CHECK(db.ids("pending").empty());
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    const auto meta = db.meta("completed", done[0]);
    CHECK(meta.at("state") == "uploaded");
    CHECK(meta.at("server_id") == req["reply"].str());
    CHECK(meta.at("attempts") == "1");
    CHECK(meta.at("product") == "UploadTarget");
    CHECK(req["files"]["upload_file_minidump"]["filename"].str() == done[0] + ".dmp");
    // What arrived is byte for byte what was stored, and a reader we did not write takes it.
    const std::string received = server.file(0, "upload_file_minidump");
    CHECK(received == read_text_file(db.root + "/completed/" + done[0] + ".dmp"));
    CHECK(mode_of(db.root + "/completed/" + done[0] + ".dmp") == 0600);
    CHECK(mode_of(db.root + "/completed/" + done[0] + ".meta") == 0600);
    CHECK(mode_of(db.root + "/completed") == 0700);
    CHECK(mode_of(db.root + "/pending") == 0700);
    const std::string dump_path = server.dir + "/" + server.folders()[0] + "/files/upload_file_minidump";
    if (tools().breakpad) {
        stackwalk_result sw = stackwalk(dump_path, dir + "/symbols");
        CHECK(sw.run.exit_code() == 0);
        CHECK(sw.reason == "SIGSEGV /SEGV_MAPERR");
    } else if (tools().required) {
        FAIL("minidump_stackwalk missing and CRASHDROP_REQUIRE_READERS=1");
    }
}

TEST_CASE("compress off: a plain multipart body", "[upload]") {
    const std::string dir = fresh("plain");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    run_app("crash", db.root, {"url=" + server.url(), "compress=0"});
    REQUIRE(server.wait_count(1));
    const json req = server.request(0);
    CHECK(req["content_encoding"].kind == json::null_v);
    CHECK(req["status"].integer() == 200);
    CHECK(server.fields(0)["prod"].str() == "UploadTarget");
}

TEST_CASE("Socorro: ProductName/Version fields - CrashID kept as the server id", "[upload]") {
    const std::string dir = fresh("socorro");
    collector server;
    server.start(dir, {"--dialect", "socorro"});
    const database_view db{dir + "/db"};
    run_app("crash", db.root, {"url=" + server.url(), "format=socorro"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const json fields = server.fields(0);
    CHECK(fields["ProductName"].str() == "UploadTarget");
    CHECK(fields["Version"].str() == "3.1.4");
    CHECK(!fields.has("extra"));  // never JSON and key-values together
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    const auto meta = db.meta("completed", done[0]);
    CHECK(meta.at("state") == "uploaded");
    CHECK(meta.at("server_id").rfind("bp-", 0) == 0);
}

TEST_CASE("Socorro's Discarded= reply: kept - marked rejected - never resent", "[upload]") {
    const std::string dir = fresh("discarded");
    collector server;
    server.start(dir, {"--dialect", "socorro", "--socorro-discard", "rule_throttled"});
    const database_view db{dir + "/db"};
    run_app("crash", db.root, {"url=" + server.url(), "format=socorro"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0]).at("state") == "rejected");
    CHECK(db.meta("completed", done[0]).at("last_error").find("Discarded=rule_throttled") != std::string::npos);
    run_app("start_only", db.root, {"url=" + server.url(), "format=socorro", "wait_ms=300"});
    REQUIRE(db.wait_helpers_done(2));
    CHECK(server.count() == 1);
}

TEST_CASE("Sentry minidump endpoint (sentry_minidump): the DSN becomes /minidump/ - the event goes as one sentry JSON part", "[upload]") {
    const std::string dir = fresh("sentry");
    collector server;
    server.start(dir, {"--dialect", "sentry"});
    const database_view db{dir + "/db"};
    const std::string dsn = "http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42";
    run_app("crash", db.root, {"dsn=" + dsn, "format=sentry_minidump", "environment=production"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const json req = server.request(0);
    CHECK(req["path"].str() == "/api/42/minidump/");
    CHECK(req["query"]["sentry_key"][0].str() == "abc123public");
    const json fields = server.fields(0);
    // One text part, "sentry", holding the event as JSON (fields.json keeps a text part as a
    // string); no other text fields (Sentry would file them under "extra").
    REQUIRE(fields["sentry"].kind == json::string_v);
    CHECK(fields.object.size() == 1);
    bool parsed = false;
    const json event = json::parse(fields["sentry"].str(), &parsed);
    INFO("sentry part: " << fields["sentry"].str());
    REQUIRE(parsed);
    REQUIRE(event.kind == json::object_v);
    CHECK(event["release"].str() == "UploadTarget@3.1.4");
    CHECK(event["level"].str() == "fatal");
    CHECK(event["platform"].str() == "native");
    CHECK(event["environment"].str() == "production");
    CHECK(event["tags"]["product"].str() == "UploadTarget");
    CHECK(!event.has("user"));  // none was set
    CHECK(event["extra"].kind == json::object_v);
    CHECK(!event["extra"].has("prod"));  // product and version are release and tags, not extra
    CHECK(!event["extra"].has("ver"));
    CHECK(event["breadcrumbs"]["values"].kind == json::array_v);
    CHECK(req["files"]["upload_file_minidump"]["filename"].kind == json::string_v);
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(event["tags"]["crashdrop.report_id"].str() == done[0]);
    CHECK(req["files"]["upload_file_minidump"]["filename"].str() == done[0] + ".dmp");
    CHECK(db.meta("completed", done[0]).at("server_id").size() == 32);  // the event id
}

/// The UTC time `seconds` as Sentry's envelope event has it ("2026-12-03T14:20:20.000Z").
std::string iso_utc(long long seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return buf;
}

std::string without_dashes(std::string id) {
    id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
    return id;
}

TEST_CASE("Sentry envelope: the DSN sends one envelope to /envelope/ - the event item field by field and the dump as event.minidump, which walks", "[upload][envelope]") {
    const std::string dir = fresh("envelope");
    const std::string log = write_log(dir + "/app.log", 1000);
    collector server;
    server.start(dir, {"--dialect", "sentry"});
    const database_view db{dir + "/db"};
    const std::string dsn = "http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42";
    // Stored first, sent more than a second later: the event's time is the crash's, not the upload's.
    const run_result app = run_app("crash", db.root, {"context=1", "crumbs=3"});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(db.wait_helpers_done(1));
    usleep(1500 * 1000);
    run_app("start_only", db.root, {"dsn=" + dsn, "environment=staging", "wait_ms=300"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(2));
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    const std::string id = done[0];
    const auto meta = db.meta("completed", id);
    const json req = server.request(0);
    CHECK(req["status"].integer() == 200);
    CHECK(req["path"].str() == "/api/42/envelope/");
    CHECK(!req["query"].has("sentry_key"));  // the key is in the header
    CHECK(req["headers"]["Content-Type"].str() == "application/x-sentry-envelope");
    CHECK(req["headers"]["Content-Encoding"].str() == "gzip");
    const std::string auth = req["headers"]["X-Sentry-Auth"].str();
    const std::string auth_start = "Sentry sentry_version=7, sentry_key=abc123public, sentry_client=crashdrop/";
    CHECK(auth.rfind(auth_start, 0) == 0);  // then the version, e.g. 0.1.0
    CHECK(auth.size() > auth_start.size());
    CHECK(auth.find_first_not_of("0123456789.", auth_start.size()) == std::string::npos);
    // The envelope header, then the items in order, each with its explicit length.
    const json& envelope = req["envelope"];
    CHECK(envelope["header"]["event_id"].str() == without_dashes(id));
    CHECK(envelope["header"]["dsn"].str() == dsn);
    CHECK(envelope["header"]["sent_at"].str().size() == 24);
    const json& items = envelope["items"];
    REQUIRE(items.array.size() == 3);
    CHECK(items[0]["headers"]["type"].str() == "event");
    CHECK(items[1]["headers"]["type"].str() == "attachment");
    CHECK(items[1]["headers"]["attachment_type"].str() == "event.minidump");
    CHECK(items[1]["headers"]["filename"].str() == id + ".dmp");
    CHECK(items[2]["headers"]["type"].str() == "attachment");
    CHECK(!items[2]["headers"].has("attachment_type"));
    CHECK(items[2]["headers"]["filename"].str() == "app.log");
    for (std::size_t i = 0; i < 3; ++i) CHECK(items[i]["headers"]["length"].integer() == items[i]["bytes"].integer());
    // The event, field by field.
    const json event = sentry_event(server.fields(0));
    CHECK(event["event_id"].str() == without_dashes(id));
    CHECK(event["timestamp"].str() == iso_utc(std::atoll(meta.at("created").c_str())));  // the crash's time
    CHECK(envelope["header"]["sent_at"].str() > event["timestamp"].str());                // not the upload's
    CHECK(event["level"].str() == "fatal");
    CHECK(event["platform"].str() == "native");
    CHECK(event["release"].str() == "UploadTarget@3.1.4");
    CHECK(event["environment"].str() == "staging");
    CHECK(event["tags"]["crash_kind"].str() == "crash");
    CHECK(event["tags"]["region"].str() == "eu");
    CHECK(event["tags"]["crashdrop.report_id"].str() == id);
    CHECK(event["user"]["id"].str() == "u-42");
    CHECK(event["user"]["username"].str() == "ana");
    CHECK(event["extra"]["scene"].str() == "level-3");
    REQUIRE(event["breadcrumbs"]["values"].array.size() == 3);
    CHECK(event["breadcrumbs"]["values"][0]["message"].str() == crumb_message(0));
    CHECK(event["contexts"]["os"]["name"].str() == "Linux");
    CHECK(!event["contexts"]["os"]["version"].str().empty());
    CHECK(meta.at("server_id") == without_dashes(id));  // the reply's id
    // The dump inside is the stored one, and a reader we did not write walks it.
    CHECK(server.file(0, "upload_file_minidump") == read_text_file(db.root + "/completed/" + id + ".dmp"));
    CHECK(server.file(0, "app.log") == log);
    if (tools().breakpad) {
        stackwalk_result sw = stackwalk(server.dir + "/" + server.folders()[0] + "/files/upload_file_minidump", dir + "/symbols");
        CHECK(sw.run.exit_code() == 0);
        CHECK(sw.reason == "SIGSEGV /SEGV_MAPERR");
    } else if (tools().required) {
        FAIL("minidump_stackwalk missing and CRASHDROP_REQUIRE_READERS=1");
    }
}

TEST_CASE("Sentry envelope: no environment set - none sent - a bad one is refused by start()", "[upload][envelope]") {
    const std::string dir = fresh("envelope-noenv");
    collector server;
    server.start(dir, {"--dialect", "sentry"});
    const database_view db{dir + "/db"};
    const std::string dsn = "dsn=http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42";
    run_app("crash", db.root, {dsn, "compress=0"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    CHECK(!server.request(0)["headers"].has("Content-Encoding"));
    CHECK(!sentry_event(server.fields(0)).has("environment"));
    for (const std::string bad : {std::string("a/b"), std::string("two\nlines"), std::string("None"), std::string(65, 'e')}) {
        const run_result refused = run_app("start_only", db.root, {dsn, "environment=" + bad});
        INFO(refused.describe());
        CHECK(refused.exit_code() == 3);
        CHECK(refused.err.find("invalid_options") != std::string::npos);
        CHECK(refused.err.find("environment") != std::string::npos);
    }
}

TEST_CASE("Sentry envelope: a 429 with Retry-After 2 delays the next attempt by 2 s", "[upload][envelope]") {
    const std::string dir = fresh("envelope-429");
    collector server;
    server.start(dir, {"--dialect", "sentry", "--statuses", "429", "--retry-after", "2"});
    const database_view db{dir + "/db"};
    const std::string dsn = "dsn=http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42";
    const run_result app = run_app("dump_and_wait", db.root, {dsn, "retry_ms=200", "wait_ms=4000"});
    INFO(app.describe() << db.helper_log());
    REQUIRE(server.wait_count(2, 20));
    REQUIRE(db.wait_helpers_done(1));
    CHECK(server.request(0)["status"].integer() == 429);
    CHECK(server.request(1)["status"].integer() == 200);
    const double gap = server.request(1)["received_at"].number - server.request(0)["received_at"].number;
    CHECK(gap >= 2.0);   // not the 200 ms back-off
    CHECK(gap < 3.5);
    CHECK(server.count() == 2);
}

TEST_CASE("Sentry envelope: X-Sentry-Rate-Limits for the error category holds reports back for its time - even after a 200", "[upload][envelope]") {
    const std::string dir = fresh("envelope-ratelimit");
    const database_view db{dir + "/db"};
    // Two reports stored without a server, then sent by one helper: the first reply (200) says
    // errors are limited for 3 s; the second report waits for that, not for its back-off.
    for (int i = 0; i < 2; ++i) {
        const run_result stored = run_app("dump_and_wait", db.root, {});
        REQUIRE(stored.exit_code() == 0);
    }
    REQUIRE(db.wait_helpers_done(2));
    REQUIRE(db.ids("pending").size() == 2);
    collector server;
    server.start(dir, {"--dialect", "sentry", "--rate-limits", "3:error;transaction:organization:quota"});
    const std::string dsn = "dsn=http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42";
    run_app("start_only", db.root, {dsn, "retry_ms=200", "wait_ms=300"});
    INFO(db.helper_log() << server.log());
    REQUIRE(server.wait_count(2, 20));
    REQUIRE(db.wait_helpers_done(3));
    CHECK(server.request(0)["status"].integer() == 200);
    CHECK(server.request(1)["status"].integer() == 200);
    const double gap = server.request(1)["received_at"].number - server.request(0)["received_at"].number;
    CHECK(gap >= 3.0);
    CHECK(gap < 5.0);
    CHECK(db.ids("completed").size() == 2);
    CHECK(db.helper_log().find("held back: Sentry's rate limit") != std::string::npos);
}

TEST_CASE("every report says what it is: a crash is kind crash, write_dump() is requested and a hang is hang - in the dump - in .meta and as crash_kind in each format", "[upload][kind]") {
    struct format_case {
        const char* name;
        const char* dialect;
    };
    for (const format_case fc : {format_case{"crashpad", "crashpad"}, format_case{"socorro", "socorro"}, format_case{"sentry", "sentry"}}) {
        for (const std::string mode : {"crash", "dump_and_wait", "hang"}) {
            const std::string want = mode == "crash" ? "crash" : mode == "hang" ? "hang" : "requested";
            SECTION(std::string(fc.name) + " " + mode) {
                const std::string dir = fresh(std::string("kind_") + fc.name + "_" + mode);
                collector server;
                server.start(dir, {"--dialect", fc.dialect});
                const database_view db{dir + "/db"};
                std::vector<std::string> args;
                if (std::string(fc.name) == "sentry") {
                    args.push_back("dsn=http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42");
                } else {
                    args.push_back("url=" + server.url());
                    args.push_back(std::string("format=") + fc.name);
                }
                // The application cannot set an annotation of that name (exit 12 if it could).
                args.push_back("reserved_annotation=crash_kind");
                if (mode == "hang") args.push_back("hang_ms=300");
                const run_result app = run_app(mode, db.root, args);
                INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
                CHECK(app.out.find("refused: annotation key 'crash_kind' is reserved") != std::string::npos);
                REQUIRE(server.wait_count(1));
                REQUIRE(db.wait_helpers_done(1));
                const auto done = db.ids("completed");
                REQUIRE(done.size() == 1);
                CHECK(db.meta("completed", done[0]).at("kind") == want);
                CHECK(db.meta("completed", done[0]).count("annotation.crash_kind") == 0);
                // The dump itself says it, read alone by Breakpad's minidump_dump.
                if (tools().breakpad) {
                    const auto d = minidump_dump(db.root + "/completed/" + done[0] + ".dmp");
                    INFO(d.run.describe());
                    CHECK(d.annotations.count("crash_kind") == 1);
                    if (d.annotations.count("crash_kind") == 1) CHECK(d.annotations.at("crash_kind") == want);
                } else if (tools().required) {
                    FAIL("minidump_dump is required but missing");
                }
                const json fields = server.fields(0);
                if (std::string(fc.name) == "sentry") {
                    const json event = sentry_event(fields);
                    CHECK(event["tags"]["crash_kind"].str() == want);
                    CHECK(event["level"].str() == (mode == "crash" ? "fatal" : mode == "hang" ? "error" : "info"));
                    CHECK(event.has("fingerprint") == (mode != "crash"));  // a crash keeps Sentry's default grouping
                    if (mode != "crash") CHECK(event["fingerprint"][1].str() == want);
                    CHECK(!event["extra"].has("crash_kind"));
                } else {
                    CHECK(fields["crash_kind"].str() == want);
                }
            }
        }
    }
}

TEST_CASE("a write_dump() stored without a helper is still kind requested once a later helper writes its metadata from the dump", "[upload][kind]") {
    const std::string dir = fresh("kind_no_helper");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result stored = run_app("dump_and_wait", db.root, {"helper=none"});
    INFO(stored.describe());
    REQUIRE(stored.exit_code() == 0);
    REQUIRE(db.ids("pending").size() == 1);
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=300"});
    INFO("helper log:\n" << db.helper_log());
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0]).at("kind") == "requested");
    CHECK(server.fields(0)["crash_kind"].str() == "requested");
}

TEST_CASE("Sentry files a hang and an abnormal exit apart from crashes: level error or fatal - a fingerprint naming the kind", "[upload][kind]") {
    // The helper's own reports (issue 14 parts 1 and 2) reach the sender as a dump with its
    // .meta; here a crash report kept pending (consent off) has its .meta's kind changed, as
    // those helpers write it, before the upload.
    struct kind_case {
        const char* kind;
        const char* level;
    };
    for (const kind_case c : {kind_case{"hang", "error"}, kind_case{"abnormal_exit", "fatal"}}) {
        SECTION(c.kind) {
            const std::string dir = fresh(std::string("kind_sentry_") + c.kind);
            collector server;
            server.start(dir, {"--dialect", "sentry"});
            const database_view db{dir + "/db"};
            const std::string dsn = "dsn=http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42";
            run_app("consent_off_crash", db.root, {dsn});
            REQUIRE(db.wait_helpers_done(1));
            const auto pending = db.ids("pending");
            REQUIRE(pending.size() == 1);
            const std::string meta_path = db.root + "/pending/" + pending[0] + ".meta";
            std::string meta = read_text_file(meta_path);
            const std::size_t at = meta.find("\nkind=crash\n");
            REQUIRE(at != std::string::npos);
            meta.replace(at, 12, std::string("\nkind=") + c.kind + "\n");
            std::ofstream(meta_path, std::ios::binary | std::ios::trunc) << meta;
            run_app("consent_on", db.root, {dsn, "wait_ms=300"});
            INFO("helper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
            REQUIRE(server.wait_count(1));
            REQUIRE(db.wait_helpers_done(2));
            const json event = sentry_event(server.fields(0));
            CHECK(event["level"].str() == c.level);
            CHECK(event["tags"]["crash_kind"].str() == c.kind);
            REQUIRE(event["fingerprint"].array.size() == 2);
            CHECK(event["fingerprint"][0].str() == "{{ default }}");
            CHECK(event["fingerprint"][1].str() == c.kind);
        }
    }
}

TEST_CASE("a dump whose crash_kind annotation says hang is a hang whatever its exception code - when the helper reads it alone", "[upload][kind]") {
    // helper=none: the crash's dump is stored without metadata (exception code SIGSEGV, annotation
    // crash_kind=crash). Its annotation's value is then rewritten to "hang" in place, as the
    // hang helper would write it; the next start's helper reads the dump alone.
    const std::string dir = fresh("kind_annotation");
    collector server;
    server.start(dir, {"--dialect", "sentry"});
    const database_view db{dir + "/db"};
    const run_result stored = run_app("crash", db.root, {"helper=none"});
    INFO(stored.describe());
    const auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    const std::string path = db.root + "/pending/" + pending[0] + ".dmp";
    std::string dump = read_text_file(path);
    const std::string value("\x05\0\0\0crash\0", 10);
    const std::size_t at = dump.find(std::string("\x0a\0\0\0crash_kind\0", 15));
    REQUIRE(at != std::string::npos);
    const std::size_t v = dump.find(value, at);
    REQUIRE(v == at + 16);  // the value's MinidumpUTF8String follows the key's, 4-aligned
    dump.replace(v, 10, std::string("\x04\0\0\0hang\0\0", 10));
    std::ofstream(path, std::ios::binary | std::ios::trunc) << dump;
    run_app("start_only", db.root, {"dsn=http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42", "wait_ms=300"});
    INFO("helper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0]).at("kind") == "hang");
    const json event = sentry_event(server.fields(0));
    CHECK(event["tags"]["crash_kind"].str() == "hang");
    CHECK(event["level"].str() == "error");
    CHECK(!event["extra"].has("crash_kind"));
}

TEST_CASE("server down: the report stays pending and is sent exactly once at the next start", "[upload]") {
    const std::string dir = fresh("down");
    const database_view db{dir + "/db"};
    // A port nothing listens on: take one, then close it.
    int dead_port = 0;
    {
        collector probe;
        probe.start(dir + "/probe");
        dead_port = probe.port;
    }
    const std::string dead_url = "http://127.0.0.1:" + std::to_string(dead_port) + "/submit";
    run_app("crash", db.root, {"url=" + dead_url, "timeout_ms=2000"});
    REQUIRE(db.wait_helpers_done(1));
    auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    const auto meta = db.meta("pending", pending[0]);
    CHECK(meta.at("attempts") == "1");
    CHECK(meta.at("last_error").find("connect") != std::string::npos);
    // Now the server is up: the next start sends it at once, once.
    collector server;
    server.start(dir);
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=500"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(2));
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=300"});
    REQUIRE(db.wait_helpers_done(3));
    CHECK(server.count() == 1);
    CHECK(db.ids("pending").empty());
    REQUIRE(db.ids("completed").size() == 1);
    CHECK(db.meta("completed", pending[0]).at("attempts") == "2");
}

TEST_CASE("500 then 200: retried with back-off in the same run - sent once", "[upload]") {
    const std::string dir = fresh("retry");
    collector server;
    server.start(dir, {"--statuses", "500"});
    const database_view db{dir + "/db"};
    const run_result app = run_app("dump_and_wait", db.root, {"url=" + server.url(), "retry_ms=200", "wait_ms=3000"});
    INFO(app.describe() << db.helper_log());
    CHECK(app.exit_code() == 0);
    REQUIRE(server.wait_count(2));
    REQUIRE(db.wait_helpers_done(1));
    CHECK(server.request(0)["status"].integer() == 500);
    CHECK(server.request(1)["status"].integer() == 200);
    CHECK(server.count() == 2);
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0]).at("attempts") == "2");
    CHECK(db.helper_log().find("retrying in 200 ms") != std::string::npos);
}

TEST_CASE("400: rejected - kept - not resent", "[upload]") {
    const std::string dir = fresh("http400");
    collector server;
    server.start(dir, {"--statuses", "400"});
    const database_view db{dir + "/db"};
    run_app("crash", db.root, {"url=" + server.url()});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=300"});
    REQUIRE(db.wait_helpers_done(2));
    CHECK(server.count() == 1);
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0]).at("state") == "rejected");
    CHECK(db.meta("completed", done[0]).at("last_error").find("HTTP 400") != std::string::npos);
}

TEST_CASE("a hanging server: the attempt times out - the report is kept - the helper still ends", "[upload]") {
    const std::string dir = fresh("hang");
    collector server;
    server.start(dir, {"--hang"});
    const database_view db{dir + "/db"};
    const double started = now_seconds();
    run_app("crash", db.root, {"url=" + server.url(), "timeout_ms=1500"});
    REQUIRE(db.wait_helpers_done(1, 20));
    CHECK(now_seconds() - started < 10);
    const auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    CHECK(db.meta("pending", pending[0]).at("last_error").find("did not answer in time") != std::string::npos);
    CHECK(server.count() == 1);  // it did arrive; the reply never came
}

TEST_CASE("a server that trickles its reply is cut off at the deadline and the report is kept", "[upload]") {
    const std::string dir = fresh("trickle");
    collector server;
    server.start(dir, {"--trickle"});  // a reply of ~17 bytes at one byte a second
    const database_view db{dir + "/db"};
    const double started = now_seconds();
    run_app("crash", db.root, {"url=" + server.url(), "timeout_ms=2500"});
    REQUIRE(db.wait_helpers_done(1, 20));
    CHECK(now_seconds() - started < 12);
    const auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    CHECK(db.meta("pending", pending[0]).at("last_error").find("did not answer in time") != std::string::npos);
}

TEST_CASE("a chunked reply is reassembled into the server id", "[upload]") {
    const std::string dir = fresh("chunked");
    collector server;
    server.start(dir, {"--chunked"});
    const database_view db{dir + "/db"};
    run_app("crash", db.root, {"url=" + server.url()});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0]).at("server_id") == server.request(0)["reply"].str());
    CHECK(db.meta("completed", done[0]).at("server_id").rfind("srv-0001-", 0) == 0);
}

TEST_CASE("damaged files in pending/ are no obstacle: the dump is still sent", "[upload]") {
    const std::string dir = fresh("damaged");
    const database_view db{dir + "/db"};
    run_app("crash", db.root);  // stored only
    REQUIRE(db.wait_helpers_done(1));
    const auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    // Metadata overwritten with noise, a stray file, a metadata file without its dump.
    {
        std::ofstream(db.root + "/pending/" + pending[0] + ".meta") << std::string("\x00\xff=garbage\n\n=\n", 14);
        std::ofstream(db.root + "/pending/notes.txt") << "hello";
        std::ofstream(db.root + "/pending/ffffffff-ffff-4fff-8fff-ffffffffffff.meta") << "id=x\n";
    }
    collector server;
    server.start(dir);
    const run_result app = run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=500"});
    CHECK(app.exit_code() == 0);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(2));
    CHECK(server.fields(0)["prod"].str() == "UploadTarget");  // defaults filled in
    CHECK(db.ids("completed") == pending);
}

TEST_CASE("the helper killed before the crash: the dump is still on disk and gets sent", "[upload]") {
    const std::string dir = fresh("killed-helper");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result app = run_app("kill_helper_then_crash", db.root, {"url=" + server.url()});
    INFO(app.describe() << db.helper_log());
    REQUIRE(app.signal() == SIGSEGV);
    // The crashed process wrote the dump itself, then started a new helper that sends it.
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    REQUIRE(db.ids("completed").size() == 1);
    CHECK(server.file(0, "upload_file_minidump") == read_text_file(db.root + "/completed/" + db.ids("completed")[0] + ".dmp"));
}

TEST_CASE("the application killed during an upload: nothing is lost", "[upload]") {
    const std::string dir = fresh("killed-app");
    const database_view db{dir + "/db"};
    run_app("crash", db.root);  // no URL: the report is only stored
    REQUIRE(db.wait_helpers_done(1));
    REQUIRE(db.ids("pending").size() == 1);
    collector server;
    server.start(dir, {"--reply-delay", "2"});
    // Start the app, let its helper begin the upload, kill the app in the middle of it.
    background_process app;
    // (abnormal=0: the kill's own abnormal-exit report is tested in abnormal_exit_tests.cpp)
    REQUIRE(app.start({k_target, "start_only", db.root, "url=" + server.url(), "wait_ms=20000", "abnormal=0"}, dir + "/app.log"));
    REQUIRE(server.wait_count(1));  // the request is in flight (the reply comes in 2 s)
    kill(app.pid(), SIGKILL);
    app.stop();
    // The helper outlives it, finishes the upload, and records it.
    REQUIRE(db.wait_helpers_done(2, 30));
    CHECK(db.ids("pending").empty());
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0]).at("state") == "uploaded");
}

TEST_CASE("consent off: nothing is sent until it is given again", "[upload]") {
    const std::string dir = fresh("consent");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result app = run_app("consent_off_crash", db.root, {"url=" + server.url()});
    CHECK(app.out.find("consent=0") != std::string::npos);
    REQUIRE(db.wait_helpers_done(1));
    CHECK(server.count() == 0);
    REQUIRE(db.ids("pending").size() == 1);
    CHECK(db.helper_log().find("upload consent is off") != std::string::npos);
    // The setting is persisted: a new run still sends nothing...
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=300"});
    REQUIRE(db.wait_helpers_done(2));
    CHECK(server.count() == 0);
    // ...until the user agrees; the helper is told and sends at once.
    run_app("consent_on", db.root, {"url=" + server.url(), "wait_ms=1500"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(3));
    CHECK(server.count() == 1);
    CHECK(db.ids("completed").size() == 1);
}

TEST_CASE("rate limit: at most one upload per hour", "[upload]") {
    const std::string dir = fresh("rate");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    run_app("crash", db.root, {"url=" + server.url(), "rate_limit=1"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    run_app("crash", db.root, {"url=" + server.url(), "rate_limit=1"});
    REQUIRE(db.wait_helpers_done(2));
    CHECK(server.count() == 1);
    CHECK(db.ids("pending").size() == 1);
    CHECK(db.ids("completed").size() == 1);
    CHECK(db.helper_log().find("rate limit") != std::string::npos);
}

TEST_CASE("HTTPS through libcurl: a self-signed server is refused - then trusted with ca_file", "[upload][https]") {
    const std::string dir = fresh("https");
    const run_result cert = run_process({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                                         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2", "-keyout",
                                         dir + "/key.pem", "-out", dir + "/cert.pem"},
                                        60);
    REQUIRE(cert.exit_code() == 0);
    collector server;
    server.start(dir, {"--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"});
    const database_view db{dir + "/db"};
    // Certificates are checked: without the CA the handshake fails and the report stays.
    run_app("crash", db.root, {"url=" + server.url("https", "localhost")});
    REQUIRE(db.wait_helpers_done(1));
    auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    CHECK(db.meta("pending", pending[0]).at("last_error").find("libcurl") != std::string::npos);
    CHECK(server.count() == 0);
    // With ca_file it goes through.
    run_app("start_only", db.root, {"url=" + server.url("https", "localhost"), "ca_file=" + dir + "/cert.pem", "wait_ms=500"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(2));
    CHECK(server.request(0)["tls"].boolean);
    CHECK(db.ids("completed").size() == 1);
}

TEST_CASE("each helper mode delivers a crash: re-exec and fork and external", "[upload]") {
    for (const std::string mode : {"reexec", "fork", "external"}) {
        INFO("helper mode " << mode);
        const std::string dir = fresh("mode-" + mode);
        collector server;
        server.start(dir);
        const database_view db{dir + "/db"};
        const run_result app = run_app("crash", db.root, {"url=" + server.url(), "helper=" + mode, "helper_path=" + k_external_helper});
        INFO(app.describe() << db.helper_log());
        CHECK(app.signal() == SIGSEGV);
        REQUIRE(server.wait_count(1));
        REQUIRE(db.wait_helpers_done(1));
        CHECK(db.helper_log().find("persisted report") != std::string::npos);  // the helper wrote it
        CHECK(db.ids("completed").size() == 1);
    }
}

TEST_CASE("a custom transport runs in the helper and its verdict is recorded", "[upload]") {
    const std::string dir = fresh("custom");
    const database_view db{dir + "/db"};
    const run_result app = run_app("custom_transport_crash", db.root);
    REQUIRE(db.wait_helpers_done(1));
    const std::string record = read_text_file(db.root + "/custom-transport.txt");
    INFO(record << db.helper_log());
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(record.find("id=" + done[0]) != std::string::npos);
    CHECK(record.find("product=UploadTarget") != std::string::npos);
    CHECK(record.find("version=3.1.4") != std::string::npos);
    CHECK(record.find("dump_bytes=" + std::to_string(read_text_file(db.root + "/completed/" + done[0] + ".dmp").size())) !=
          std::string::npos);
    // It ran in the helper, not in the crashed process.
    const auto app_at = app.out.find("app pid ");
    REQUIRE(app_at != std::string::npos);
    const int app_pid = std::atoi(app.out.c_str() + app_at + 8);
    const auto pid_at = record.find("pid=");
    REQUIRE(pid_at != std::string::npos);
    CHECK(std::atoi(record.c_str() + pid_at + 4) != app_pid);
    CHECK(db.meta("completed", done[0]).at("server_id") == "custom-" + done[0].substr(0, 8));
}

/// The values of `key=` lines in upload_target's custom-transport.txt, call by call.
static std::vector<std::string> transport_record(const database_view& db, const std::string& key) {
    std::vector<std::string> out;
    for (const auto& line : split(read_text_file(db.root + "/custom-transport.txt"), '\n')) {
        if (line.compare(0, key.size() + 1, key + "=") == 0) out.push_back(line.substr(key.size() + 1));
    }
    return out;
}

TEST_CASE("a custom transport's rejected answer keeps the report as rejected with its message - never offered again", "[upload][transport]") {
    const std::string dir = fresh("custom-rejected");
    const database_view db{dir + "/db"};
    run_app("custom_transport_crash", db.root, {"transport=rejected"});
    REQUIRE(db.wait_helpers_done(1));
    INFO(db.helper_log());
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.ids("pending").empty());
    const auto meta = db.meta("completed", done[0]);
    CHECK(meta.at("state") == "rejected");
    CHECK(meta.at("last_error") == "custom: refused for good");
    CHECK(meta.at("attempts") == "1");
    // A later start() does not offer it again.
    run_app("start_only", db.root, {"transport=rejected", "wait_ms=300"});
    REQUIRE(db.wait_helpers_done(2));
    CHECK(transport_record(db, "id") == std::vector<std::string>{done[0]});
}

TEST_CASE("a custom transport is cut down only by an explicit max_upload_bytes: then it gets the smaller dump and report.trimmed - the stored dump stays whole", "[upload][transport][budget]") {
    SECTION("no max_upload_bytes: a report over the formats' 16 MiB default reaches the transport whole") {
        const std::string dir = fresh("custom-nobudget");
        write_log(dir + "/app.log", 17u << 20);  // <db>/../app.log, the attachment: over 16 MiB alone
        const database_view db{dir + "/db"};
        run_app("custom_transport_crash", db.root, {"context=1", "max_attachment_bytes=" + std::to_string(18u << 20)});
        REQUIRE(db.wait_helpers_done(1));
        INFO(db.helper_log());
        const auto done = db.ids("completed");
        REQUIRE(done.size() == 1);
        CHECK(transport_record(db, "attachments") == std::vector<std::string>{"1"});
        CHECK(transport_record(db, "trimmed") == std::vector<std::string>{""});
        const std::string stored = read_text_file(db.root + "/completed/" + done[0] + ".dmp");
        CHECK(transport_record(db, "dump_bytes") == std::vector<std::string>{std::to_string(stored.size())});
        CHECK(db.meta("completed", done[0]).count("trimmed") == 0);
    }
    SECTION("max_upload_bytes set: the transport gets the cut-down upload") {
        const std::string dir = fresh("custom-budget");
        write_log(dir + "/app.log", 400 * 1024);
        const database_view db{dir + "/db"};
        const std::size_t budget = 160 * 1024;
        run_app("custom_transport_crash", db.root, {"context=1", "busy_threads=8", "max_attachment_bytes=1048576",
                                                    "max_upload_bytes=" + std::to_string(budget)});
        REQUIRE(db.wait_helpers_done(1));
        INFO(db.helper_log());
        const auto done = db.ids("completed");
        REQUIRE(done.size() == 1);
        CHECK(transport_record(db, "attachments") == std::vector<std::string>{"0"});
        const auto trimmed = transport_record(db, "trimmed");
        REQUIRE(trimmed.size() == 1);
        CHECK(trimmed[0].rfind("upload budget " + std::to_string(budget) + " bytes", 0) == 0);
        CHECK(trimmed[0].find("attachment app.log (") != std::string::npos);
        const auto meta = db.meta("completed", done[0]);
        CHECK(meta.at("state") == "uploaded");
        REQUIRE(meta.count("trimmed") == 1);
        CHECK(meta.at("trimmed") == trimmed[0]);
        const std::string stored = read_text_file(db.root + "/completed/" + done[0] + ".dmp");
        const auto dump_bytes = transport_record(db, "dump_bytes");
        REQUIRE(dump_bytes.size() == 1);
        CHECK(std::stoull(dump_bytes[0]) < budget);
        CHECK(std::stoull(dump_bytes[0]) < stored.size());
    }
}

TEST_CASE("an exception escaping a custom transport ends the helper - the report stays pending - the next start() sends it once", "[upload][transport]") {
    const std::string dir = fresh("custom-throw");
    const database_view db{dir + "/db"};
    run_app("custom_transport_crash", db.root, {"transport=throw_once"});
    // The helper is not told to catch it: std::terminate ends it (libstdc++ says so on stderr,
    // which is helper.log), and it never logs "helper exits".
    REQUIRE(eventually(30, [&] { return db.helper_log().find("terminate called") != std::string::npos; }));
    INFO(db.helper_log());
    CHECK(db.helper_exits() == 0);
    CHECK(db.ids("pending").size() == 1);
    CHECK(db.ids("completed").empty());
    run_app("start_only", db.root, {"transport=throw_once", "wait_ms=300"});
    REQUIRE(db.wait_helpers_done(1));
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.ids("pending").empty());
    CHECK(db.meta("completed", done[0]).at("state") == "uploaded");
    CHECK(transport_record(db, "id") == std::vector<std::string>(2, done[0]));
}

// ---- Options::before_upload (upload_target's before=...) ----

/// The lines of upload_target's before-upload.txt (what the callback was given, call by call).
static std::string before_record(const database_view& db) { return read_text_file(db.root + "/before-upload.txt"); }

TEST_CASE("before_upload edits what is sent: the server gets the edited field - the stored report keeps the original - it saw kind and annotations and breadcrumbs and attachments and a readable dump - in the re-exec and the fork helper", "[upload][before_upload]") {
    for (const std::string mode : {"reexec", "fork"}) {
        INFO("helper mode " << mode);
        const std::string dir = fresh("before-edit-" + mode);
        write_log(dir + "/app.log", k_log_bytes);
        collector server;
        server.start(dir);
        const database_view db{dir + "/db"};
        const run_result app = run_app("crash", db.root, {"url=" + server.url(), "context=1", "crumbs=3", "before=edit", "helper=" + mode});
        INFO(app.describe());
        REQUIRE(app.signal() == SIGSEGV);
        REQUIRE(server.wait_count(1));
        REQUIRE(db.wait_helpers_done(1));
        const std::string record = before_record(db);
        INFO("before_upload saw:\n" << record << "\nhelper log:\n" << db.helper_log());
        const json fields = server.fields(0);
        CHECK(fields["scene"].str() == "scrubbed");
        CHECK(!fields.has("user.email"));
        CHECK(fields["user.id"].str() == "u-42");    // what it left alone goes as it was
        CHECK(fields["build"].str() == "nightly");
        CHECK(fields["tag.phase"].str() == "boss");
        const auto done = db.ids("completed");
        REQUIRE(done.size() == 1);
        const auto meta = db.meta("completed", done[0]);
        CHECK(meta.at("state") == "uploaded");
        CHECK(meta.at("annotation.scene") == "level-3");  // the stored report is unchanged
        CHECK(meta.at("user.email") == "ana@example.org");
        // What it was given: called once (one attempt), in the helper, with the whole report.
        CHECK(record.find("call=1\n") != std::string::npos);
        CHECK(record.find("call=2\n") == std::string::npos);
        CHECK(record.find("id=" + done[0] + "\n") != std::string::npos);
        CHECK(record.find("kind=crash\n") != std::string::npos);
        CHECK(record.find("annotation.scene=level-3\n") != std::string::npos);
        CHECK(record.find("annotation.build=nightly\n") != std::string::npos);
        CHECK(record.find("tag.region=eu\n") != std::string::npos);
        CHECK(record.find("user.email=ana@example.org\n") != std::string::npos);
        CHECK(record.find("breadcrumbs=3\n") != std::string::npos);
        CHECK(record.find("last_crumb=" + crumb_message(2) + "\n") != std::string::npos);
        CHECK(record.find("attachment=app.log\n") != std::string::npos);
        CHECK(record.find("dump_path_magic=MDMP\n") != std::string::npos);
        CHECK(record.find("dump_bytes=" + std::to_string(read_text_file(db.root + "/completed/" + done[0] + ".dmp").size()) + "\n") !=
              std::string::npos);
        const auto app_at = app.out.find("app pid ");
        const auto pid_at = record.find("pid=");
        REQUIRE(app_at != std::string::npos);
        REQUIRE(pid_at != std::string::npos);
        CHECK(std::atoi(record.c_str() + pid_at + 4) != std::atoi(app.out.c_str() + app_at + 8));
    }
}

TEST_CASE("before_upload drops an attachment: the server does not get it - its copy stays with the report", "[upload][before_upload]") {
    const std::string dir = fresh("before-attachment");
    const std::string log = write_log(dir + "/app.log", k_log_bytes);
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result app = run_app("crash", db.root, {"url=" + server.url(), "context=1", "before=drop_attachment"});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log());
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const json req = server.request(0);
    CHECK(req["files"].has("upload_file_minidump"));
    CHECK(!req["files"].has("app.log"));
    CHECK(server.fields(0)["scene"].str() == "level-3");
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    const std::string copy = db.root + "/attachments/" + done[0] + "/app.log";
    CHECK(db.meta("completed", done[0]).at("attachment.0000") == copy);
    CHECK(read_text_file(copy) == log);
    CHECK(before_record(db).find("attachment=app.log\n") != std::string::npos);
}

TEST_CASE("before_upload drops a report: nothing reaches the server - it is kept as rejected with the reason - not tried again at the next start", "[upload][before_upload]") {
    const std::string dir = fresh("before-drop");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result app = run_app("crash", db.root, {"url=" + server.url(), "context=1", "before=drop"});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(db.wait_helpers_done(1));
    CHECK(db.ids("pending").empty());
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    const auto meta = db.meta("completed", done[0]);
    CHECK(meta.at("state") == "rejected");
    CHECK(meta.at("last_error") == "dropped by before_upload");
    CHECK(file_exists(db.root + "/completed/" + done[0] + ".dmp"));
    // A later start (whose callback would send it) neither sends nor offers it again.
    const run_result later = run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=300", "before=edit"});
    REQUIRE(db.wait_helpers_done(2));
    const run_result list = run_app("list", db.root);
    INFO(later.describe() << list.describe());
    CHECK(list.out.find(done[0]) == std::string::npos);  // neither pending nor uploaded
    CHECK(server.count() == 0);
    const std::string record = before_record(db);
    CHECK(record.find("call=1\n") != std::string::npos);
    CHECK(record.find("call=2\n") == std::string::npos);
    CHECK(record.find("id=" + done[0]) == record.rfind("id=" + done[0]));  // offered once
}

TEST_CASE("before_upload dropping reports of a kind: the write_dump() report is rejected - the crash is sent", "[upload][before_upload][kind]") {
    const std::string dir = fresh("before-kind");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result first = run_app("dump_and_wait", db.root, {"url=" + server.url(), "before=drop_requested", "wait_ms=300"});
    REQUIRE(db.wait_helpers_done(1));
    const run_result second = run_app("crash", db.root, {"url=" + server.url(), "before=drop_requested"});
    INFO(first.describe() << second.describe() << "\nhelper log:\n" << db.helper_log());
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(2));
    CHECK(server.count() == 1);
    CHECK(server.fields(0)["crash_kind"].str() == "crash");
    std::map<std::string, std::string> state_of_kind;
    for (const auto& id : db.ids("completed")) {
        const auto meta = db.meta("completed", id);
        state_of_kind[meta.count("kind") ? meta.at("kind") : "?"] = meta.at("state");
    }
    CHECK(state_of_kind["requested"] == "rejected");
    CHECK(state_of_kind["crash"] == "uploaded");
}

TEST_CASE("a before_upload that throws sends nothing unscrubbed: the report stays pending - the next attempt sends it once", "[upload][before_upload]") {
    const std::string dir = fresh("before-throw");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result app = run_app("crash", db.root, {"url=" + server.url(), "before=throw", "retry_ms=100"});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\nrecord:\n" << before_record(db));
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    CHECK(server.count() == 1);
    CHECK(db.helper_log().find("before_upload threw: scrubber failed") != std::string::npos);
    const std::string record = before_record(db);
    CHECK(record.find("call=2\n") != std::string::npos);
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(db.meta("completed", done[0]).at("state") == "uploaded");
}

TEST_CASE("start() refuses application code an external helper would ignore: before_upload and a custom transport - and before_upload without a helper", "[upload][before_upload]") {
    const std::string dir = fresh("before-external");
    const database_view db{dir + "/db"};
    const std::string ext = "helper_path=" + k_external_helper;
    const run_result plain = run_app("start_only", db.root, {"helper=external", ext});
    INFO(plain.describe());
    CHECK(plain.exit_code() == 0);  // the external helper itself is fine
    const run_result before = run_app("start_only", db.root, {"helper=external", ext, "before=edit"});
    INFO(before.describe());
    CHECK(before.exit_code() == 3);
    CHECK(before.err.find("invalid_options") != std::string::npos);
    CHECK(before.err.find("before_upload") != std::string::npos);
    const run_result transport = run_app("custom_transport_crash", db.root, {"helper=external", ext});
    INFO(transport.describe());
    CHECK(transport.exit_code() == 3);
    CHECK(transport.err.find("invalid_options: transport") != std::string::npos);
    const run_result none = run_app("start_only", db.root, {"helper=none", "before=edit"});
    INFO(none.describe());
    CHECK(none.exit_code() == 3);
    CHECK(none.err.find("before_upload") != std::string::npos);
    CHECK(run_app("start_only", db.root, {"helper=reexec", "before=edit"}).exit_code() == 0);
}

TEST_CASE("the API lists pending and uploaded reports and the last one", "[upload]") {
    const std::string dir = fresh("api");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    run_app("crash", db.root, {"url=" + server.url()});
    REQUIRE(db.wait_helpers_done(1));
    run_app("crash", db.root);  // stored only
    REQUIRE(db.wait_helpers_done(2));
    const run_result list = run_app("list", db.root, {"helper=none"});
    INFO(list.describe());
    const auto uploaded = db.ids("completed");
    const auto pending = db.ids("pending");
    REQUIRE(uploaded.size() == 1);
    REQUIRE(pending.size() == 1);
    CHECK(list.out.find("pending " + pending[0] + " pending") != std::string::npos);
    CHECK(list.out.find("uploaded " + uploaded[0] + " srv-") != std::string::npos);
    CHECK(list.out.find("last " + uploaded[0]) != std::string::npos);
    CHECK(list.out.find("consent=1") != std::string::npos);
    // Report::kind, read from the .meta files.
    auto line_of = [&list](const std::string& start) {
        const std::size_t at = list.out.find(start);
        return at == std::string::npos ? std::string() : list.out.substr(at, list.out.find('\n', at) - at);
    };
    const std::string suffix = " kind=crash";
    const std::string pending_line = line_of("pending " + pending[0]), uploaded_line = line_of("uploaded " + uploaded[0]);
    CHECK(pending_line.size() > suffix.size());
    CHECK(pending_line.substr(pending_line.size() - std::min(pending_line.size(), suffix.size())) == suffix);
    CHECK(uploaded_line.size() > suffix.size());
    CHECK(uploaded_line.substr(uploaded_line.size() - std::min(uploaded_line.size(), suffix.size())) == suffix);
}

TEST_CASE("the database keeps at most max_reports - pruning the oldest", "[upload]") {
    const std::string dir = fresh("prune");
    const database_view db{dir + "/db"};
    for (int i = 0; i < 5; ++i) {
        run_app("dump_and_wait", db.root, {"max_reports=3"});
        sleep(1);  // distinct creation times
    }
    REQUIRE(db.wait_helpers_done(5));
    CHECK(db.ids("pending").size() == 3);
    CHECK(db.helper_log().find("pruned") != std::string::npos);
}

TEST_CASE("the helper: not a zombie - no terminal - none of the app's files - gone after the app", "[upload]") {
    const std::string dir = fresh("hygiene");
    collector server;
    server.start(dir, {"--hang"});  // keeps the helper busy for a while
    const database_view db{dir + "/db"};
    background_process app;
    REQUIRE(app.start({k_target, "dump_and_wait", db.root, "url=" + server.url(), "wait_ms=4000", "timeout_ms=3000"},
                      dir + "/app.log"));
    REQUIRE(server.wait_count(1));
    int helper_pid = 0;
    REQUIRE(eventually(10, [&] {
        const std::string log = db.helper_log();
        const auto at = log.find("helper started (pid ");
        if (at != std::string::npos) helper_pid = std::atoi(log.c_str() + at + 20);
        return helper_pid != 0;
    }));
    const std::string stat = read_text_file("/proc/" + std::to_string(helper_pid) + "/stat");
    REQUIRE(!stat.empty());
    const auto fields = split(stat.substr(stat.rfind(')') + 2), ' ');
    // fields[0] state, [1] ppid, [2] pgrp, [3] session, [4] tty_nr
    const std::string app_stat = read_text_file("/proc/" + std::to_string(app.pid()) + "/stat");
    const auto app_fields = split(app_stat.substr(app_stat.rfind(')') + 2), ' ');
    CHECK(std::atoi(fields[1].c_str()) != app.pid());  // reparented: never the app's zombie
    CHECK(fields[3] != app_fields[3]);                  // another session (not the app's terminal's)...
    CHECK(std::atoi(fields[3].c_str()) != helper_pid);  // ...whose leader it is not (it can never get one)
    CHECK(std::atoi(fields[4].c_str()) == 0);           // no controlling terminal
    const std::string nice = fields[16];
    CHECK(std::atoi(nice.c_str()) == 10);
    // Open files: the standard three, the shared region, its socket - and what it opens itself.
    std::vector<std::string> unexpected;
    for (const auto& fd : list_dir("/proc/" + std::to_string(helper_pid) + "/fd")) {
        char target[512] = {0};
        readlink(("/proc/" + std::to_string(helper_pid) + "/fd/" + fd).c_str(), target, sizeof(target) - 1);
        const std::string t = target;
        const bool ok = t == "/dev/null" || t.find("helper.log") != std::string::npos || t.find("memfd:crashdrop") != std::string::npos ||
                        t.rfind("socket:", 0) == 0 || t.rfind("anon_inode:", 0) == 0 || t.find(db.root) != std::string::npos;
        if (!ok) unexpected.push_back(fd + " -> " + t);
    }
    INFO("unexpected open files: " << join_lines(unexpected));
    CHECK(unexpected.empty());
    // Blocked signals: all asynchronous ones but SIGTERM.
    const std::string status = read_text_file("/proc/" + std::to_string(helper_pid) + "/status");
    const auto blk = status.find("SigBlk:");
    REQUIRE(blk != std::string::npos);
    const unsigned long long mask = std::strtoull(status.c_str() + blk + 7, nullptr, 16);
    for (int sig : {SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP}) CHECK((mask >> (sig - 1)) & 1u);
    CHECK(((mask >> (SIGTERM - 1)) & 1u) != 0);  // blocked too, but read through its signalfd
    app.stop();
    REQUIRE(db.wait_helpers_done(1, 20));
    CHECK(eventually(10, [&] { return !file_exists("/proc/" + std::to_string(helper_pid) + "/stat"); }));
}

// ---- crash context: annotations, tags, user, breadcrumbs and attachments, in each format ----

TEST_CASE("crash context in crashpad format: annotations and long parts and tags and user and breadcrumbs and the attachment's tail", "[upload]") {
    const std::string dir = fresh("ctx-crashpad");
    const std::string log = write_log(dir + "/app.log", k_log_bytes);  // <db>/../app.log
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const long long from = wall_ms() - 1;
    const run_result app = run_app("crash", db.root,
                                   {"url=" + server.url(), "context=1", "crumbs=7", "max_attachment_bytes=" + std::to_string(k_attachment_cap)});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const long long to = wall_ms();
    const json req = server.request(0);
    CHECK(req["status"].integer() == 200);
    CHECK(req["multipart_defects"].array.empty());
    const json fields = server.fields(0);
    CHECK(fields["prod"].str() == "UploadTarget");
    CHECK(fields["ver"].str() == "3.1.4");
    check_plain_context(fields, 0, 7, from, to);
    // The attachment: a file part named after the file, holding exactly its last bytes.
    const std::string tail = log.substr(log.size() - k_attachment_cap);
    REQUIRE(req["files"].has("app.log"));
    CHECK(req["files"]["app.log"]["filename"].str() == "app.log");
    CHECK(req["files"]["app.log"]["bytes"].integer() == static_cast<long long>(k_attachment_cap));
    CHECK(server.file(0, "app.log") == tail);
    CHECK(db.helper_log().find("larger than " + std::to_string(k_attachment_cap) + " bytes, its end kept") != std::string::npos);
    // The database: the copy made when the crash was stored is what the report names, and it
    // stays with the report after the upload (it goes when the report is pruned, below).
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    const auto meta = db.meta("completed", done[0]);
    CHECK(meta.at("state") == "uploaded");
    const std::string copy = db.root + "/attachments/" + done[0] + "/app.log";
    CHECK(meta.at("attachment.0000") == copy);
    CHECK(read_text_file(copy) == tail);
    CHECK(mode_of(copy) == 0600);
    CHECK(meta.at("annotation.scene") == "level-3");
    CHECK(meta.at("annotation.long") == long_value());
    CHECK(meta.at("tag.phase") == "boss");
    CHECK(meta.at("user.email") == "ana@example.org");
    // A second crash with max_reports=1 prunes the first report, and its attachment copies with it.
    sleep(1);  // distinct creation times: the oldest goes
    run_app("crash", db.root, {"url=" + server.url(), "context=1", "crumbs=1", "max_reports=1",
                               "max_attachment_bytes=" + std::to_string(k_attachment_cap)});
    REQUIRE(server.wait_count(2));
    REQUIRE(db.wait_helpers_done(2));
    const auto after = db.ids("completed");
    REQUIRE(after.size() == 1);
    CHECK(after[0] != done[0]);
    CHECK(db.helper_log().find("pruned " + done[0]) != std::string::npos);
    CHECK(!file_exists(db.root + "/attachments/" + done[0]));
    CHECK(list_dir(db.root + "/attachments") == std::vector<std::string>{after[0]});
    CHECK(read_text_file(db.root + "/attachments/" + after[0] + "/app.log") == tail);
}

TEST_CASE("crash context in socorro format: the same fields as key-values and the server accepts them", "[upload]") {
    const std::string dir = fresh("ctx-socorro");
    const std::string log = write_log(dir + "/app.log", k_log_bytes);
    collector server;
    server.start(dir, {"--dialect", "socorro"});
    const database_view db{dir + "/db"};
    const long long from = wall_ms() - 1;
    const run_result app = run_app("crash", db.root, {"url=" + server.url(), "format=socorro", "context=1", "crumbs=5",
                                                      "max_attachment_bytes=" + std::to_string(k_attachment_cap)});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const long long to = wall_ms();
    const json req = server.request(0);
    INFO("reply: " << req["reply"].str() << " error: " << req["error"].str());
    CHECK(req["status"].integer() == 200);
    CHECK(req["reply"].str().rfind("CrashID=bp-", 0) == 0);
    CHECK(req["reply"].str().find("Discarded=") == std::string::npos);
    const json fields = server.fields(0);
    CHECK(fields["ProductName"].str() == "UploadTarget");
    CHECK(fields["Version"].str() == "3.1.4");
    CHECK(!fields.has("extra"));  // never JSON and key-values together
    CHECK(!fields.has("prod"));
    check_plain_context(fields, 0, 5, from, to);
    CHECK(server.file(0, "app.log") == log.substr(log.size() - k_attachment_cap));
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(fields["ReportId"].str() == done[0]);
    const auto meta = db.meta("completed", done[0]);
    CHECK(meta.at("state") == "uploaded");
    CHECK(meta.at("server_id").rfind("bp-", 0) == 0);
}

TEST_CASE("crash context in sentry format: extra and tags and user and breadcrumbs in the event JSON", "[upload]") {
    const std::string dir = fresh("ctx-sentry");
    const std::string log = write_log(dir + "/app.log", k_log_bytes);
    collector server;
    server.start(dir, {"--dialect", "sentry"});
    const database_view db{dir + "/db"};
    const std::string dsn = "http://abc123public@127.0.0.1:" + std::to_string(server.port) + "/42";
    const long long from = wall_ms() - 1;
    const run_result app = run_app("crash", db.root, {"dsn=" + dsn, "context=1", "crumbs=6",
                                                      "max_attachment_bytes=" + std::to_string(k_attachment_cap)});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const long long to = wall_ms();
    const json req = server.request(0);
    CHECK(req["status"].integer() == 200);
    CHECK(req["path"].str() == "/api/42/envelope/");
    const json fields = server.fields(0);
    CHECK(fields.object.size() == 1);  // everything is in the event
    const json event = sentry_event(fields);
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    CHECK(event["release"].str() == "UploadTarget@3.1.4");
    CHECK(event["level"].str() == "fatal");
    CHECK(event["platform"].str() == "native");
    // extra: the annotations, the long one whole again; product and version are not extra.
    const json& extra = event["extra"];
    CHECK(extra["scene"].str() == "level-3");
    CHECK(extra["build"].str() == "nightly");
    CHECK(extra["long"].str() == long_value());
    CHECK(!extra.has("long__1"));
    CHECK(!extra.has("prod"));
    CHECK(!extra.has("ver"));
    CHECK(extra.object.size() == 3);
    const json& tags = event["tags"];
    CHECK(tags["region"].str() == "eu");
    CHECK(tags["phase"].str() == "boss");
    CHECK(tags["product"].str() == "UploadTarget");
    CHECK(tags["crashdrop.report_id"].str() == done[0]);
    CHECK(tags["crash_kind"].str() == "crash");
    CHECK(tags.object.size() == 5);
    const json& user = event["user"];
    CHECK(user["id"].str() == "u-42");
    CHECK(user["username"].str() == "ana");
    CHECK(user["email"].str() == "ana@example.org");
    CHECK(!user.has("ip_address"));
    const json& values = event["breadcrumbs"]["values"];
    REQUIRE(values.kind == json::array_v);
    REQUIRE(values.array.size() == 6);
    double previous = 0;
    for (int i = 0; i < 6; ++i) {
        const json& b = values[static_cast<std::size_t>(i)];
        INFO("breadcrumb " << i);
        REQUIRE(b["timestamp"].kind == json::number_v);  // seconds since the epoch, a number
        CHECK(b["timestamp"].number * 1000 >= static_cast<double>(from) - 1);
        CHECK(b["timestamp"].number * 1000 <= static_cast<double>(to) + 1);
        CHECK(b["timestamp"].number >= previous);
        previous = b["timestamp"].number;
        CHECK(b["level"].str() == crumb_level(i));
        CHECK(b["category"].str() == crumb_category(i));
        CHECK(b["message"].str() == crumb_message(i));  // '|', '%' and UTF-8 intact
        CHECK(b["message"].str().find("| 50% done \xc3\xa9t\xc3\xa9") != std::string::npos);
    }
    CHECK(server.file(0, "app.log") == log.substr(log.size() - k_attachment_cap));
    CHECK(db.meta("completed", done[0]).at("server_id").size() == 32);
}

TEST_CASE("an attachment changed after the crash: the copy taken when the crash was stored is sent", "[upload]") {
    const std::string dir = fresh("ctx-attachment-copy");
    const std::string log = write_log(dir + "/app.log", k_log_bytes);
    const std::string tail = log.substr(log.size() - k_attachment_cap);
    const database_view db{dir + "/db"};
    const std::string cap = "max_attachment_bytes=" + std::to_string(k_attachment_cap);
    // No server yet: the crash is only stored, its attachment copied into the database.
    const run_result app = run_app("crash", db.root, {"context=1", "crumbs=2", cap});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(db.wait_helpers_done(1));
    const auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    const std::string copy = db.root + "/attachments/" + pending[0] + "/app.log";
    CHECK(db.meta("pending", pending[0]).at("attachment.0000") == copy);
    CHECK(read_text_file(copy) == tail);
    // The application rewrites its log at its next start (the next run's is different).
    const std::string rewritten = write_log(dir + "/app.log", 3000, "NEW");
    collector server;
    server.start(dir);
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=500", "context=1", cap});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(2));
    const std::string sent = server.file(0, "app.log");
    CHECK(sent == tail);
    CHECK(sent != rewritten.substr(rewritten.size() - k_attachment_cap));
    CHECK(server.fields(0)["scene"].str() == "level-3");  // the crashed run's context, not this run's
    CHECK(split(server.fields(0)["breadcrumbs"].str(), '\n').size() == 3);  // 2 lines and the end
    CHECK(db.ids("completed") == pending);
    CHECK(read_text_file(copy) == tail);  // kept with the report
}

TEST_CASE("breadcrumbs are a ring: 150 added with the default 100 entries - the last 100 are sent", "[upload]") {
    const std::string dir = fresh("ctx-ring");
    write_log(dir + "/app.log", 100);
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const long long from = wall_ms() - 1;
    const run_result app = run_app("crash", db.root, {"url=" + server.url(), "context=1", "crumbs=150"});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    check_plain_context(server.fields(0), 50, 100, from, wall_ms());
    CHECK(server.file(0, "app.log").size() == 100);  // under the cap: whole
}

TEST_CASE("a forked child's crash: its own dump - global_extra but not extra - sent at the next start", "[upload]") {
    const std::string dir = fresh("ctx-fork-child");
    const std::string log = write_log(dir + "/app.log", k_log_bytes);
    const std::string tail = log.substr(log.size() - k_attachment_cap);
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const std::string cap = "max_attachment_bytes=" + std::to_string(k_attachment_cap);
    const long long from = wall_ms() - 1;
    // The parent writes a dump (its helper stores and sends it), then forks a child that crashes.
    const run_result app = run_app("fork_child_crash", db.root, {"url=" + server.url(), "context=1", "crumbs=4", cap});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
    REQUIRE(app.exit_code() == 0);
    CHECK(app.out.find("child signal=11") != std::string::npos);
    // The parent's dump: stored by the helper, sent, with Options::extra.
    const auto parent = db.ids("completed");
    REQUIRE(parent.size() == 1);
    CHECK(app.out.find("dump=" + db.root + "/pending/" + parent[0] + ".dmp") != std::string::npos);
    CHECK(server.count() == 1);
    CHECK(server.fields(0)["scene"].str() == "level-3");
    CHECK(server.fields(0)["build"].str() == "nightly");
    CHECK(server.file(0, "app.log") == tail);
    // The child's: the helper belongs to the parent, so the child wrote its dump into pending/
    // itself, without metadata, and the parent's helper (past its start-up scan) never heard
    // of it: not sent in this run, no attachment copy.
    const auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    CHECK(pending[0] != parent[0]);
    CHECK(!file_exists(db.root + "/pending/" + pending[0] + ".meta"));
    CHECK(mode_of(db.root + "/pending/" + pending[0] + ".dmp") == 0600);
    CHECK(!file_exists(db.root + "/attachments/" + pending[0]));
    // The next start finds it, makes its metadata from the dump's own context, and sends it
    // (the attachment path found in the dump is read because this run names it too).
    const std::string later = write_log(dir + "/app.log", 3000, "LATER");
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=500", "context=1", cap});
    REQUIRE(server.wait_count(2));
    REQUIRE(db.wait_helpers_done(2));
    CHECK(server.count() == 2);
    CHECK(db.helper_log().find("metadata of " + pending[0] + " missing: written anew from the dump") != std::string::npos);
    const json fields = server.fields(1);
    CHECK(fields["prod"].str() == "UploadTarget");
    CHECK(!fields.has("scene"));  // Options::extra: the parent's only
    check_plain_context(fields, 0, 4, from, wall_ms(), false);  // global_extra, the later annotation, tags, user, crumbs
    CHECK(db.ids("pending").empty());
    CHECK(db.ids("completed").size() == 2);
    const auto meta = db.meta("completed", pending[0]);
    CHECK(meta.at("state") == "uploaded");
    CHECK(meta.count("annotation.scene") == 0);
    CHECK(meta.at("annotation.build") == "nightly");
    // The child had no helper to copy its attachment when it crashed: the copy is taken when the
    // dump is found (the running application naming the same file), so what is sent is the file
    // as it was at the next start.
    const std::string copy = db.root + "/attachments/" + pending[0] + "/app.log";
    CHECK(meta.at("attachment.0000") == copy);
    CHECK(read_text_file(copy) == later.substr(later.size() - k_attachment_cap));
    CHECK(server.file(1, "app.log") == later.substr(later.size() - k_attachment_cap));
}

// ---- the database is the user's alone: planted files are never followed or sent ----

namespace {

const std::string k_secret = "-----BEGIN OPENSSH PRIVATE KEY----- crashdrop-test-secret-7f3a9c";

/// The form fields of request i that carried a file.
std::vector<std::string> file_parts(const collector& server, std::size_t i) {
    std::vector<std::string> out;
    const json req = server.request(i);  // (request() returns a copy: keep it alive while iterating)
    for (const auto& f : req["files"].object) out.push_back(f.first);
    return out;
}

/// True if any file the server stored holds `text`.
bool received_anywhere(const collector& server, const std::string& text) {
    return run_process({"grep", "-rqF", text, server.dir}, 30).exit_code() == 0;
}

/// After a failure: a helper blocked on a FIFO (as the old library's was) is given a writer for
/// an instant, then killed if it still runs, so a failing test leaves no stuck process behind.
void release_stuck_helpers(const database_view& db, const std::string& fifo) {
    const int fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) close(fd);
    for (const auto& line : split(db.helper_log(), '\n')) {
        const auto at = line.find("helper started (pid ");
        const int pid = at == std::string::npos ? 0 : std::atoi(line.c_str() + at + 20);
        if (pid > 0 && db.helper_log().find("crashdrop-helper[" + std::to_string(pid) + "]: helper exits") == std::string::npos) {
            kill(pid, SIGKILL);
        }
    }
}

bool file_kind_is_fifo(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

}  // namespace

TEST_CASE("a .meta planted in pending/ naming any file as an attachment: that file never reaches the server", "[upload][hostile]") {
    const std::string dir = fresh("planted-meta");
    const std::string secret = dir + "/id_rsa";
    std::ofstream(secret) << k_secret << "\n";
    const database_view db{dir + "/db"};
    run_app("crash", db.root);  // stored only
    REQUIRE(db.wait_helpers_done(1));
    const auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    // The metadata rewritten as an intruder would: well-formed, naming a private key and
    // /etc/passwd as the report's attachments.
    std::ofstream(db.root + "/pending/" + pending[0] + ".meta")
        << "# crashdrop report metadata\nid=" << pending[0] << "\ncreated=" << std::time(nullptr)
        << "\nproduct=UploadTarget\nversion=3.1.4\nstate=pending\nattachment.0000=" << secret
        << "\nattachment.0001=/etc/passwd\n";
    collector server;
    server.start(dir);
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=500"});
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(2));
    INFO("helper log:\n" << db.helper_log());
    CHECK(file_parts(server, 0) == std::vector<std::string>{"upload_file_minidump"});
    CHECK_FALSE(received_anywhere(server, "crashdrop-test-secret-7f3a9c"));
    CHECK_FALSE(received_anywhere(server, "root:x:0:0"));
    CHECK(db.ids("completed") == pending);
}

TEST_CASE("an attachment that is a FIFO does not block the helper: the report is sent without it", "[upload][hostile]") {
    const std::string dir = fresh("fifo-attachment");
    REQUIRE(mkfifo((dir + "/app.log").c_str(), 0600) == 0);  // upload_target's context=1 attachment
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const run_result app = run_app("crash", db.root, {"url=" + server.url(), "context=1"});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log());
    CHECK(app.signal() == SIGSEGV);
    const bool sent = server.wait_count(1, 20);
    const bool done = db.wait_helpers_done(1, 20);
    if (!sent || !done) release_stuck_helpers(db, dir + "/app.log");  // (an old library's waits in open())
    REQUIRE(sent);
    REQUIRE(done);
    CHECK(file_parts(server, 0) == std::vector<std::string>{"upload_file_minidump"});
    CHECK(db.helper_log().find("attachment " + dir + "/app.log: Invalid argument; not sent (no copy could be made)") !=
          std::string::npos);
    CHECK(db.ids("completed").size() == 1);
}

TEST_CASE("links and FIFOs and bad ids planted in the database are set aside and logged - never followed or sent", "[upload][hostile]") {
    const std::string dir = fresh("planted-entries");
    const std::string secret = dir + "/id_rsa";
    std::ofstream(secret) << k_secret << "\n";
    const std::string log = write_log(dir + "/app.log", 500);
    const database_view db{dir + "/db"};
    run_app("crash", db.root, {"context=1"});  // stored only, with its copy of app.log
    REQUIRE(db.wait_helpers_done(1));
    const auto pending = db.ids("pending");
    REQUIRE(pending.size() == 1);
    const std::string id = pending[0];
    const std::string other = "0f1e2d3c-4b5a-4697-8879-6a5b4c3d2e1f";
    const std::string bad = "ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ";
    // The metadata replaced by a FIFO (a reader that opens it waits forever); a copy of the dump
    // under a name that is no report id; a link to the private key as another report's dump and
    // as one more attachment of this one.
    REQUIRE(std::remove((db.root + "/pending/" + id + ".meta").c_str()) == 0);
    REQUIRE(mkfifo((db.root + "/pending/" + id + ".meta").c_str(), 0600) == 0);
    std::ofstream(db.root + "/pending/" + bad + ".dmp") << read_text_file(db.root + "/pending/" + id + ".dmp");
    REQUIRE(symlink(secret.c_str(), (db.root + "/pending/" + other + ".dmp").c_str()) == 0);
    REQUIRE(symlink(secret.c_str(), (db.root + "/attachments/" + id + "/zz-id_rsa").c_str()) == 0);
    collector server;
    server.start(dir);
    run_app("start_only", db.root, {"url=" + server.url(), "wait_ms=500"});
    const bool sent = server.wait_count(1, 20);
    const bool done = db.wait_helpers_done(2, 20);
    if (!sent || !done) release_stuck_helpers(db, db.root + "/pending/" + id + ".meta");
    INFO("helper log:\n" << db.helper_log());
    REQUIRE(sent);
    REQUIRE(done);
    CHECK(server.count() == 1);  // the real report only
    CHECK(file_parts(server, 0) == (std::vector<std::string>{"app.log", "upload_file_minidump"}));
    CHECK(server.file(0, "app.log") == log);
    CHECK_FALSE(received_anywhere(server, "crashdrop-test-secret-7f3a9c"));
    // Each planted entry is in quarantine/ (the links still links), and the log says why.
    const std::string helper_log = db.helper_log();
    CHECK(helper_log.find("set aside " + db.root + "/pending/" + id + ".meta: not a regular file") != std::string::npos);
    CHECK(helper_log.find("set aside " + db.root + "/pending/" + bad + ".dmp: not named by a report id") != std::string::npos);
    CHECK(helper_log.find("set aside " + db.root + "/pending/" + other + ".dmp: a symbolic link") != std::string::npos);
    CHECK(helper_log.find("set aside " + db.root + "/attachments/" + id + "/zz-id_rsa: a symbolic link") != std::string::npos);
    std::vector<std::string> quarantined = {"pending." + bad + ".dmp", "pending." + other + ".dmp", "pending." + id + ".meta",
                                            id + ".zz-id_rsa"};
    std::sort(quarantined.begin(), quarantined.end());
    CHECK(list_dir(db.root + "/quarantine") == quarantined);
    CHECK(db.ids("pending").empty());
    CHECK(db.ids("completed") == pending);
    CHECK(read_text_file(secret) == k_secret + "\n");
}

TEST_CASE("a FIFO planted as helper.log blocks neither start() nor the helper: the crash is still sent", "[upload][hostile]") {
    const std::string dir = fresh("fifo-helper-log");
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    REQUIRE(mkdir(db.root.c_str(), 0700) == 0);
    REQUIRE(mkfifo((db.root + "/helper.log").c_str(), 0600) == 0);
    const run_result app = run_app("crash", db.root, {"url=" + server.url()}, 20);
    const bool sent = server.wait_count(1, 20);
    if (app.timed_out) {  // (an old library's start() waits in open() for a reader)
        const int fd = open((db.root + "/helper.log").c_str(), O_RDONLY | O_NONBLOCK);
        if (fd >= 0) close(fd);
    }
    INFO(app.describe());
    CHECK(app.signal() == SIGSEGV);
    CHECK(sent);
    CHECK(file_kind_is_fifo(db.root + "/helper.log"));
}

TEST_CASE("a report over max_upload_bytes arrives under it: other stacks cut - memory around registers and the attachment dropped - it still walks - the dump and .meta say what was cut", "[upload][budget]") {
    const std::string dir = fresh("budget");
    write_log(dir + "/app.log", 400 * 1024);  // <db>/../app.log, the attachment
    collector server;
    server.start(dir);
    const database_view db{dir + "/db"};
    const std::size_t budget = 160 * 1024;
    const run_result app = run_app("crash", db.root,
                                   {"url=" + server.url(), "context=1", "busy_threads=8", "max_attachment_bytes=1048576",
                                    "max_upload_bytes=" + std::to_string(budget)});
    INFO(app.describe() << "\nhelper log:\n" << db.helper_log() << "\ncollector log:\n" << server.log());
    REQUIRE(app.signal() == SIGSEGV);
    REQUIRE(server.wait_count(1));
    REQUIRE(db.wait_helpers_done(1));
    const json req = server.request(0);
    CHECK(req["status"].integer() == 200);
    CHECK(req["multipart_defects"].array.empty());
    // What the server received: under the budget, gzip or not.
    CHECK(req["decoded_bytes"].integer() <= static_cast<long long>(budget));
    CHECK(req["body_bytes"].integer() <= static_cast<long long>(budget));
    CHECK(!req["files"].has("app.log"));
    const std::string sent = server.file(0, "upload_file_minidump");
    REQUIRE(!sent.empty());
    // The stored dump stays whole: it is larger than the one sent.
    const auto done = db.ids("completed");
    REQUIRE(done.size() == 1);
    const std::string stored = read_text_file(db.root + "/completed/" + done[0] + ".dmp");
    CHECK(stored.size() > sent.size());
    CHECK(stored.size() + 400 * 1024 > budget);
    // .meta and the dump say what was cut, in the fixed order.
    const auto meta = db.meta("completed", done[0]);
    REQUIRE(meta.count("trimmed") == 1);
    const std::string& trimmed = meta.at("trimmed");
    INFO("trimmed=" << trimmed);
    const std::size_t a = trimmed.find("other threads' stacks cut to");
    const std::size_t b = trimmed.find("memory around registers dropped");
    const std::size_t c = trimmed.find("attachment app.log (");
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    REQUIRE(c != std::string::npos);
    CHECK(a < b);
    CHECK(b < c);
    CHECK(trimmed.find("crashing thread's stack") == std::string::npos);  // (d) was not needed
    CHECK(trimmed.find("sent as it is") == std::string::npos);
    const std::string sent_path = dir + "/sent.dmp";
    { std::ofstream(sent_path, std::ios::binary) << sent; }
    minidump_file f;
    REQUIRE(f.load_bytes(sent));
    const std::string errors = f.stream_bytes(0x43440001u);  // crashdrop's writer-errors stream
    CHECK(errors.find(trimmed) != std::string::npos);
    // It still walks: the crashing thread has its frames down to main, as in the stored dump.
    const std::string stored_path = db.root + "/completed/" + done[0] + ".dmp";
    const auto whole = stackwalk(stored_path, dir + "/no-symbols");
    const auto cut = stackwalk(sent_path, dir + "/no-symbols");
    CHECK(cut.run.exit_code() == 0);
    REQUIRE(whole.crash_thread >= 0);
    CHECK(cut.crash_thread == whole.crash_thread);
    CHECK(cut.threads.size() == whole.threads.size());
    REQUIRE(cut.threads.count(whole.crash_thread) == 1);
    CHECK(cut.threads.at(whole.crash_thread).size() == whole.threads.at(whole.crash_thread).size());
    CHECK(cut.threads.at(whole.crash_thread).size() >= 2);
}

TEST_CASE("max_upload_bytes below 64 KiB is refused by start() naming it", "[upload][budget]") {
    const std::string dir = fresh("budget-range");
    const run_result app = run_app("start_only", dir + "/db", {"max_upload_bytes=1000"});
    CHECK(app.exit_code() == 3);
    CHECK(app.err.find("max_upload_bytes") != std::string::npos);
}

// ---- the hand-off's answer (issue 17): what is true when the crashed process is gone ----

namespace {
/// The names in `dir` ending in `tail`, read at once.
std::size_t count_named(const std::string& dir, const std::string& tail) {
    std::size_t n = 0;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string name = e->d_name;
            if (name.size() == 36 + tail.size() && name.compare(36, tail.size(), tail) == 0) ++n;
        }
        closedir(d);
    }
    return n;
}
}  // namespace

TEST_CASE("the helper answers a crash only once its dump and .meta are in pending/ and the run is recorded crashed - looked at the moment each of 25 crashed processes is reaped", "[upload][handoff]") {
    const std::string dir = fresh("gone-means-persisted");
    const database_view db{dir + "/db"};
    const std::string pending = db.root + "/pending";
    for (int i = 0; i < 25; ++i) {
        INFO("crash " << i);
        const std::size_t before = count_named(pending, ".dmp");
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            const int null_fd = open("/dev/null", O_WRONLY);
            dup2(null_fd, 1);
            dup2(null_fd, 2);
            execl(k_target.c_str(), k_target.c_str(), "crash", db.root.c_str(), "abnormal=0", static_cast<char*>(nullptr));
            _exit(127);
        }
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        // Nothing else first: the helper goes on working while these are read.
        const std::size_t dumps = count_named(pending, ".dmp");
        const std::size_t metas = count_named(pending, ".meta");
        const std::string runs = read_text_file(db.root + "/runs");
        INFO(db.helper_log());
        REQUIRE(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGSEGV);
        CHECK(dumps == before + 1);
        CHECK(metas == before + 1);
        CHECK(runs.find("state=crashed") != std::string::npos);
    }
    REQUIRE(db.wait_helpers_done(25));
    CHECK(db.ids("pending").size() == 25);  // each once: nothing doubled afterwards either
    CHECK(count_named(pending, ".meta") == 25);
}

TEST_CASE("a crash after pending/ was renamed away and made anew lands in the new pending/ - not in the folder the helper's files were made ahead in", "[upload][handoff]") {
    const std::string dir = fresh("pending-moved");
    const database_view db{dir + "/db"};
    const run_result app = run_app("move_pending_then_crash", db.root, {"abnormal=0"});
    INFO(app.out << app.err << db.helper_log());
    REQUIRE(app.signaled());
    CHECK(app.signal() == SIGSEGV);
    // Looked at once the process is gone: the helper has answered by then.
    CHECK(count_named(db.root + "/pending", ".dmp") == 1);
    CHECK(count_named(db.root + "/pending", ".meta") == 1);
    CHECK(count_named(db.root + "/pending.old", ".dmp") == 0);
    CHECK(count_named(db.root + "/pending.old", ".meta") == 0);
    CHECK(db.helper_log().find("could not store") == std::string::npos);
}
