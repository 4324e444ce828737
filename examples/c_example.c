/* c_example - crashdrop from C: a tiny "game engine" written in C that turns on crash
 * reporting, tells crashdrop what it is doing, and then crashes in its physics code.
 *
 *   c_example <database folder> [submit URL]
 *
 * What it takes to use crashdrop from C:
 *   - this file includes "crashdrop.hpp" like any C++ file would; compiled as C it declares
 *     only the C interface (crashdrop/c_api.hpp): plain structs, enums and functions;
 *   - one C++ file of the program holds the implementation (c_example_impl.cpp: two lines);
 *   - the program is linked by the C++ compiler (or with -lstdc++), with -pthread -ldl.
 * In CMake: add both files to the executable, link crashdrop::crashdrop and set
 * LINKER_LANGUAGE CXX; in meson: both files, crashdrop_dep and link_language: 'cpp'.
 *
 * After the crash the dump is in <database folder>/pending/<report id>.dmp. Read it with
 *   dump_syms c_example > c_example.sym   (stored as symbols/c_example/<id>/c_example.sym)
 *   minidump_stackwalk <dump> symbols/
 * which shows SIGSEGV in physics_step, called by engine_update, called by main. The dump also
 * holds the annotations, tags, user and breadcrumbs set below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crashdrop.hpp" /* in a C file: the C interface only */

/* The engine's functions are kept out of line so that the crash report's stack matches the
 * source line for line (with inlining, physics_step would appear inside engine_update). */
#if defined(__GNUC__) || defined(__clang__)
#define ENGINE_NOINLINE __attribute__((noinline))
#else
#define ENGINE_NOINLINE
#endif

/* ---- a very small engine -------------------------------------------------------------- */

typedef struct shape {
    float radius;
    long last_simulated_frame;
} shape;

typedef struct body {
    const char* name;
    float x, y;   /* position */
    float vx, vy; /* velocity */
    shape* shape; /* collision shape; every body is supposed to have one */
} body;

#define MAX_BODIES 8

typedef struct engine {
    body bodies[MAX_BODIES];
    shape shapes[MAX_BODIES];
    int body_count;
    long frame;
    double time; /* seconds of game time */
} engine;

static void engine_add_body(engine* e, const char* name, float x, float y, float vx, float vy, int with_shape) {
    body* b = &e->bodies[e->body_count];
    b->name = name;
    b->x = x;
    b->y = y;
    b->vx = vx;
    b->vy = vy;
    b->shape = NULL;
    if (with_shape) {
        e->shapes[e->body_count].radius = 0.5f;
        b->shape = &e->shapes[e->body_count];
    }
    e->body_count++;
}

/* Moves every body and records on its shape the frame it was simulated in. A body spawned
 * without a shape has shape == NULL: writing through it is the crash this example is about. */
ENGINE_NOINLINE void physics_step(engine* e, float dt) {
    int i;
    for (i = 0; i < e->body_count; ++i) {
        body* b = &e->bodies[i];
        b->vy -= 9.81f * dt;
        b->x += b->vx * dt;
        b->y += b->vy * dt;
        b->shape->last_simulated_frame = e->frame; /* SIGSEGV for the body without a shape */
    }
}

/* One frame: game logic, then physics. */
ENGINE_NOINLINE void engine_update(engine* e, float dt) {
    char message[64];
    e->frame++;
    if (e->frame == 3) {
        /* The bug: a crate spawned by a script gets no collision shape. */
        engine_add_body(e, "crate", 4.0f, 10.0f, 0.0f, 0.0f, 0);
        crashdrop_add_breadcrumb("spawned body 'crate' from script", "gameplay", CRASHDROP_LEVEL_WARNING);
    }
    /* Breadcrumbs are cheap (a clock read and a copy into memory reserved by start()), so an
     * engine can leave one per frame; only the last max_breadcrumbs are kept. */
    snprintf(message, sizeof(message), "frame %ld: %d bodies", e->frame, e->body_count);
    crashdrop_add_breadcrumb(message, "engine", CRASHDROP_LEVEL_DEBUG);
    physics_step(e, dt);
    e->time += dt;
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char** argv) {
    crashdrop_options options;
    static engine world; /* static: zero-initialised, and not on the stack */
    char mods[512];
    int i;
    int rc;

    /* 1. Start crashdrop first thing in main(): with the default helper mode the helper process
     *    is this executable run again, and crashdrop_start() never returns in it. */
    crashdrop_options_init(&options); /* every default, and struct_size */
    options.database_path = argc > 1 ? argv[1] : "c-example-crashes";
    options.product_name = "CEngineDemo";
    options.product_version = "2.7.1";
    if (argc > 2) options.submit_url = argv[2]; /* the helper process sends the report there */
    rc = crashdrop_start(&options);
    if (rc != CRASHDROP_OK) {
        /* Crash reporting is never worth refusing to run for: say why, and go on without it. */
        fprintf(stderr, "c_example: crash reporting is off (error %d): %s\n", rc, crashdrop_last_error());
    }

    /* 2. Annotations: key/value pairs in every dump and report from now on (Electron's "extra"
     *    parameters). Keys are at most 39 bytes; a value longer than 255 bytes is stored and sent
     *    in parts named key__1, key__2, ... (255 bytes each). */
    crashdrop_add_extra_parameter("renderer", "vulkan 1.3 / llvmpipe");
    crashdrop_add_extra_parameter("level", "forest_02");
    mods[0] = '\0';
    for (i = 0; i < 40; ++i) { /* "mod_00.pak;mod_01.pak;..." - 440 bytes, so two parts */
        char one[16];
        snprintf(one, sizeof(one), "mod_%02d.pak;", i);
        strcat(mods, one);
    }
    rc = crashdrop_add_extra_parameter("loaded_mods", mods);
    if (rc != CRASHDROP_OK) fprintf(stderr, "c_example: loaded_mods: %s\n", crashdrop_last_error());

    /* 3. Tags and the user (what Sentry calls them; other servers get them as fields). */
    crashdrop_set_tag("map", "forest_02");
    crashdrop_set_tag("graphics", "high");
    crashdrop_set_user("player-1234", "alice", "alice@example.com", NULL /* no IP address */);

    /* 4. Breadcrumbs: what happened shortly before the crash, oldest first in the report. */
    crashdrop_add_breadcrumb("engine initialised", "engine", CRASHDROP_LEVEL_INFO);
    crashdrop_add_breadcrumb("texture rock.png missing, using the fallback", "assets", CRASHDROP_LEVEL_WARNING);
    crashdrop_add_breadcrumb("level forest_02 loaded", "level", CRASHDROP_LEVEL_INFO);

    /* 5. Run the game. On frame 3 a body without a shape appears and physics_step crashes. */
    engine_add_body(&world, "player", 0.0f, 0.0f, 1.0f, 0.0f, 1);
    engine_add_body(&world, "tree", 3.0f, 0.0f, 0.0f, 0.0f, 1);
    printf("c_example: running (crash reporting %s)\n", crashdrop_is_started() ? "on" : "off");
    fflush(stdout);
    for (i = 0; i < 10; ++i) engine_update(&world, 1.0f / 60.0f);

    printf("c_example: not reached\n");
    return 0;
}
