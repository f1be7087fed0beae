/*
 * replay.c - a main() for the fuzz targets in ordinary builds: runs
 * LLVMFuzzerTestOneInput over every file of the corpus directories given, one
 * TAP test case per file, so the targets are compiled and exercised by every
 * test run (Knot's tests-fuzz). A crash or sanitizer report fails the run.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path, int n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("not ok %d - %s (cannot open)\n", n, path);
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while (buf != NULL && (k = fread(buf + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) {
        printf("not ok %d - %s (out of memory)\n", n, path);
        return 1;
    }
    /* An exact-size copy, so ASan sees the input's real end. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(buf);
        printf("not ok %d - %s (out of memory)\n", n, path);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    printf("ok %d - %s\n", n, path);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    char **files = NULL;
    size_t nf = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0)
            continue;
        if (!S_ISDIR(st.st_mode)) {
            files = realloc(files, (nf + 1) * sizeof *files);
            files[nf++] = strdup(argv[i]);
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
            char *p = malloc(l);
            snprintf(p, l, "%s/%s", argv[i], e->d_name);
            files = realloc(files, (nf + 1) * sizeof *files);
            files[nf++] = p;
        }
        if (d != NULL)
            closedir(d);
    }
    if (nf > 0)
        qsort(files, nf, sizeof *files, cmp);
    /* An empty input always runs first: the target must survive it. */
    printf("1..%zu\n", nf + 1);
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
    printf("ok 1 - empty input\n");
    int failed = 0;
    for (size_t i = 0; i < nf; i++) {
        failed |= run_file(files[i], (int)i + 2);
        free(files[i]);
    }
    free(files);
    return failed;
}
