// demo - a small "game" that starts crashdrop, runs a few threads, and crashes in one of them.
// tools/demo.sh builds it, runs it against a local collector and shows what the collector
// received. Its main() calls crashdrop::start() first: in helper mode (re-exec) the same
// executable runs again as the helper, and start() then never returns.
//
//   demo [database folder] [submit URL]
// Without a database folder it uses the per-user one, crashdrop::default_database_path()
// ($XDG_STATE_HOME/crashdrop-demo/crashdrop or ~/.local/state/crashdrop-demo/crashdrop).
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace game {

struct Entity {
    int health = 100;
    Entity* target = nullptr;
};

std::atomic<bool> running{true};

__attribute__((noinline)) void apply_damage(Entity& e, int amount) {
    e.target->health -= amount;  // the bug: this entity has no target
}

__attribute__((noinline)) void update_world(std::vector<Entity>& world) {
    for (auto& e : world) apply_damage(e, 10);
}

void simulation_thread() {
    pthread_setname_np(pthread_self(), "simulation");
    std::vector<Entity> world(3);
    world[0].target = &world[1];
    world[1].target = &world[2];  // world[2].target stays null
    // What the game was doing: breadcrumbs and annotations land in the report.
    crashdrop::add_breadcrumb("loaded level 3 (3 entities)", "level");
    (void)crashdrop::add_extra_parameter("level", "3");  // a Status: only a bad key or a full store fail
    for (int frame = 1; frame <= 3; ++frame) {
        crashdrop::add_breadcrumb("frame " + std::to_string(frame) + " simulated", "sim", crashdrop::BreadcrumbLevel::debug);
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    crashdrop::add_breadcrumb("boss fight begins", "gameplay", crashdrop::BreadcrumbLevel::warning);
    (void)crashdrop::set_tag("phase", "boss");
    update_world(world);
}

void idle_thread(const char* name) {
    pthread_setname_np(pthread_self(), name);
    while (running.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace game

int main(int argc, char** argv) {
    crashdrop::Options options;
    options.product_name = "crashdrop-demo";
    options.database_path = argc > 1 ? argv[1] : crashdrop::default_database_path(options.product_name);
    options.product_version = "1.0.0";
    if (argc > 2) options.submit_url = argv[2];  // the helper process sends the report there
    options.tags["renderer"] = "vulkan";        // sent with every report (Sentry's tags)
    options.user.id = "player-1337";            // and who was playing
    options.extra["save_slot"] = "2";           // an annotation of this process
    if (crashdrop::Status s = crashdrop::start(options); !s.ok()) {
        std::fprintf(stderr, "crashdrop::start failed: %s\n", s.message().c_str());
        return 1;
    }
    std::printf("demo: crashdrop started (database %s); crashing in the simulation thread...\n",
                options.database_path.c_str());
    std::fflush(stdout);
    std::thread render(game::idle_thread, "render");
    std::thread audio(game::idle_thread, "audio");
    std::thread simulation(game::simulation_thread);
    simulation.join();
    game::running = false;
    render.join();
    audio.join();
    return 0;
}
