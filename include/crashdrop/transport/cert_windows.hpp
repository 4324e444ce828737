// crashdrop/transport/cert_windows.hpp - Options::ca_file on Windows: decides whether a TLS server's
// certificate is trusted when the application names a CA file (PEM, one or more certificates, or
// one DER certificate). WinHTTP only knows the Windows certificate store, so http_windows.hpp lets
// an unknown root through WinHTTP's check and asks here: the chain must end at a certificate of
// the file (or be trusted by Windows anyway, as libcurl's CAINFO adds to the system's CAs on
// Debian), have no other fault, and pass the SSL policy for the host name (name, dates, usage).
// crypt32.dll is loaded at first use, like winhttp.dll, so no link flag is needed.
// Context: implementation TU; helper process (ordinary code, may allocate).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

/// crypt32.dll's entry points, found once per process (the library stays loaded).
struct crypt32_library {
    decltype(&::CryptStringToBinaryA) string_to_binary = nullptr;
    decltype(&::CertOpenStore) open_store = nullptr;
    decltype(&::CertAddEncodedCertificateToStore) add_encoded = nullptr;
    decltype(&::CertFindCertificateInStore) find_in_store = nullptr;
    decltype(&::CertGetCertificateChain) get_chain = nullptr;
    decltype(&::CertVerifyCertificateChainPolicy) verify_policy = nullptr;
    decltype(&::CertFreeCertificateChain) free_chain = nullptr;
    decltype(&::CertFreeCertificateContext) free_certificate = nullptr;
    decltype(&::CertCloseStore) close_store = nullptr;
    HMODULE module = nullptr;
    std::string error;

    static const crypt32_library& get() {
        static const crypt32_library lib = load();
        return lib;
    }
    bool available() const { return module != nullptr; }

private:
    static crypt32_library load() {
        crypt32_library c;
        const HMODULE m = load_system_library(L"crypt32.dll");
        if (m == nullptr) {
            c.error = "cannot load crypt32.dll";
            return c;
        }
        if (!find_proc(m, "CryptStringToBinaryA", &c.string_to_binary) || !find_proc(m, "CertOpenStore", &c.open_store) ||
            !find_proc(m, "CertAddEncodedCertificateToStore", &c.add_encoded) ||
            !find_proc(m, "CertFindCertificateInStore", &c.find_in_store) || !find_proc(m, "CertGetCertificateChain", &c.get_chain) ||
            !find_proc(m, "CertVerifyCertificateChainPolicy", &c.verify_policy) ||
            !find_proc(m, "CertFreeCertificateChain", &c.free_chain) ||
            !find_proc(m, "CertFreeCertificateContext", &c.free_certificate) || !find_proc(m, "CertCloseStore", &c.close_store)) {
            c.error = "crypt32.dll lacks a function crashdrop needs";
            FreeLibrary(m);
            return c;
        }
        c.module = m;
        return c;
    }
};

/// The certificates of a CA file in an in-memory store (nullptr, with *error, when there are none).
inline HCERTSTORE load_ca_file(const crypt32_library& c, const std::string& path, std::string* error) {
    std::string text;
    bool cut = false;
    if (!read_file_tail(path, 16u << 20, &text, &cut) || cut) {
        *error = "cannot read ca_file " + path;
        return nullptr;
    }
    const HCERTSTORE store = c.open_store(CERT_STORE_PROV_MEMORY, 0, 0, 0, nullptr);
    if (store == nullptr) {
        *error = "cannot make a certificate store (Windows error " + std::to_string(GetLastError()) + ")";
        return nullptr;
    }
    auto add = [&](const BYTE* der, DWORD size) {
        return c.add_encoded(store, X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, der, size, CERT_STORE_ADD_ALWAYS, nullptr) != 0;
    };
    static const char k_begin[] = "-----BEGIN CERTIFICATE-----";
    static const char k_end[] = "-----END CERTIFICATE-----";
    int added = 0;
    for (std::size_t at = text.find(k_begin); at != std::string::npos; at = text.find(k_begin, at + 1)) {
        const std::size_t end = text.find(k_end, at);
        if (end == std::string::npos) break;
        const std::string pem = text.substr(at, end + sizeof(k_end) - 1 - at);
        DWORD size = 0;
        if (!c.string_to_binary(pem.c_str(), static_cast<DWORD>(pem.size()), CRYPT_STRING_BASE64HEADER, nullptr, &size, nullptr,
                                nullptr)) {
            continue;
        }
        std::vector<BYTE> der(size);
        if (c.string_to_binary(pem.c_str(), static_cast<DWORD>(pem.size()), CRYPT_STRING_BASE64HEADER, der.data(), &size,
                               nullptr, nullptr) &&
            add(der.data(), size)) {
            ++added;
        }
    }
    if (added == 0 && text.find(k_begin) == std::string::npos && !text.empty() &&
        add(reinterpret_cast<const BYTE*>(text.data()), static_cast<DWORD>(text.size()))) {
        added = 1;  // one DER certificate
    }
    if (added == 0) {
        c.close_store(store, 0);
        *error = "no certificate in ca_file " + path;
        return nullptr;
    }
    return store;
}

/// Whether `cert` (the server's, from WinHTTP) is trusted for `host` by ca_file or by Windows.
inline bool server_cert_trusted(PCCERT_CONTEXT cert, const std::string& host, const std::string& ca_file, std::string* error) {
    const crypt32_library& c = crypt32_library::get();
    if (!c.available()) {
        *error = c.error;
        return false;
    }
    const HCERTSTORE cas = load_ca_file(c, ca_file, error);
    if (cas == nullptr) return false;
    char server_auth[] = szOID_PKIX_KP_SERVER_AUTH;
    LPSTR usages[] = {server_auth};
    CERT_CHAIN_PARA para{};
    para.cbSize = sizeof(para);
    para.RequestedUsage.dwType = USAGE_MATCH_TYPE_AND;
    para.RequestedUsage.Usage.cUsageIdentifier = 1;
    para.RequestedUsage.Usage.rgpszUsageIdentifier = usages;
    PCCERT_CHAIN_CONTEXT chain = nullptr;
    // The file's certificates are offered to the chain builder next to the system's.
    if (!c.get_chain(nullptr, cert, nullptr, cas, &para, 0, nullptr, &chain) || chain == nullptr || chain->cChain == 0) {
        *error = "cannot build the certificate chain (Windows error " + std::to_string(GetLastError()) + ")";
        c.close_store(cas, 0);
        return false;
    }
    const CERT_SIMPLE_CHAIN* simple = chain->rgpChain[0];
    const PCCERT_CONTEXT top = simple->cElement > 0 ? simple->rgpElement[simple->cElement - 1]->pCertContext : nullptr;
    const PCCERT_CONTEXT anchor = top == nullptr ? nullptr : c.find_in_store(cas, X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, 0,
                                                                           CERT_FIND_EXISTING, top, nullptr);
    const DWORD faults = chain->TrustStatus.dwErrorStatus;
    bool ok = faults == CERT_TRUST_NO_ERROR || (anchor != nullptr && (faults & ~DWORD{CERT_TRUST_IS_UNTRUSTED_ROOT}) == 0);
    if (!ok) {
        char hex[16];
        std::snprintf(hex, sizeof(hex), "%#lx", static_cast<unsigned long>(faults));
        *error = anchor == nullptr ? "the server's certificate is not issued by a CA of ca_file " + ca_file + " nor trusted by Windows"
                                   : std::string("the server's certificate chain is not valid (trust status ") + hex + ")";
    } else {
        // Host name, dates and usage; the root was judged above.
        std::wstring name = widen(host);
        SSL_EXTRA_CERT_CHAIN_POLICY_PARA ssl{};
        ssl.cbSize = sizeof(ssl);
        ssl.dwAuthType = AUTHTYPE_SERVER;
        ssl.fdwChecks = 0x00000100;  // SECURITY_FLAG_IGNORE_UNKNOWN_CA
        ssl.pwszServerName = &name[0];
        CERT_CHAIN_POLICY_PARA policy{};
        policy.cbSize = sizeof(policy);
        policy.pvExtraPolicyPara = &ssl;
        CERT_CHAIN_POLICY_STATUS status{};
        status.cbSize = sizeof(status);
        if (!c.verify_policy(CERT_CHAIN_POLICY_SSL, chain, &policy, &status) || status.dwError != 0) {
            char hex[16];
            std::snprintf(hex, sizeof(hex), "%#lx", static_cast<unsigned long>(status.dwError));
            *error = "the server's certificate fails the checks for " + host + " (error " + hex + ")";
            ok = false;
        }
    }
    if (anchor != nullptr) c.free_certificate(anchor);
    c.free_chain(chain);
    c.close_store(cas, 0);
    return ok;
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_OS_WINDOWS
