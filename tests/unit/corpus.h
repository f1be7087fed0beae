/*
 * corpus.h - unit tests that run over a fuzz corpus (tests/fuzz/corpus/NAME):
 * each file's bytes (up to 64 KiB) to a callback. Include after cmocka.h.
 */
#ifndef SIPWATCH_TEST_CORPUS_H
#define SIPWATCH_TEST_CORPUS_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>

typedef void corpus_fn(const char *name, const uint8_t *p, size_t n, void *ctx);

/* Calls fn on every file of SW_SOURCE_ROOT/tests/fuzz/corpus/<name> (dot
 * files skipped); returns how many. */
static inline unsigned corpus_each(const char *name, corpus_fn *fn, void *ctx)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", SW_SOURCE_ROOT, name);
    DIR *d = opendir(dir);
    assert_non_null(d);
    unsigned files = 0;
    struct dirent *e;
    static uint8_t buf[65536];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        fn(e->d_name, buf, n, ctx);
        files++;
    }
    closedir(d);
    return files;
}

#endif
