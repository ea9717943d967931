/*
 * libcurl's own ceiling for bench/delivery.sh: POSTs one body N times to one URL over libcurl's
 * multi interface with the least work a client on libcurl can do per request:
 *   - one thread, driving curl_multi_perform + curl_multi_poll;
 *   - CONCURRENCY easy handles (32), created once and re-added after each transfer, so their
 *     options are set once and their keep-alive connections are reused;
 *   - one header list built once and shared by every request;
 *   - CURLOPT_POSTFIELDS pointing at the body in place (never copied);
 *   - a write callback that discards the response body.
 * Prints requests/s and CPU-seconds (user + sys, getrusage) per 100,000 requests; fails if any
 * request does not get a 2xx.
 *
 * usage: curl-multi-baseline URL BODY_FILE HEADERS_FILE REQUESTS [CONCURRENCY]
 *   HEADERS_FILE: one "Name: value" line per header, sent as given (may be empty).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static size_t discard(char *data, size_t size, size_t count, void *context) {
    (void)data;
    (void)context;
    return size * count;
}

static char *read_file(const char *path, long *length) {
    FILE *file = fopen(path, "rb");
    if (!file) { perror(path); exit(2); }
    fseek(file, 0, SEEK_END);
    *length = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *bytes = malloc((size_t)*length + 1);
    if (!bytes || fread(bytes, 1, (size_t)*length, file) != (size_t)*length) { perror(path); exit(2); }
    bytes[*length] = 0;
    fclose(file);
    return bytes;
}

static double seconds(struct timeval value) { return (double)value.tv_sec + (double)value.tv_usec / 1e6; }

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s URL BODY_FILE HEADERS_FILE REQUESTS [CONCURRENCY]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    long body_length = 0, headers_length = 0;
    char *body = read_file(argv[2], &body_length);
    char *header_text = read_file(argv[3], &headers_length);
    long total = atol(argv[4]);
    int concurrency = argc > 5 ? atoi(argv[5]) : 32;
    if (total <= 0 || concurrency <= 0) { fprintf(stderr, "REQUESTS and CONCURRENCY must be positive\n"); return 2; }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* The same suppressions the sink makes, so both send the same request head. */
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, "Accept:");
    for (char *line = strtok(header_text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        if (*line) headers = curl_slist_append(headers, line);
    }

    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
    CURL **handles = calloc((size_t)concurrency, sizeof(CURL *));
    long started = 0, completed = 0, failed = 0;

    struct timespec wall_start, wall_end;
    clock_gettime(CLOCK_MONOTONIC, &wall_start);
    for (int i = 0; i < concurrency && started < total; i++, started++) {
        CURL *easy = curl_easy_init();
        handles[i] = easy;
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_length);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(multi, easy);
    }

    int running = 1;
    while (completed < total) {
        curl_multi_perform(multi, &running);
        CURLMsg *message;
        int queued;
        while ((message = curl_multi_info_read(multi, &queued))) {
            if (message->msg != CURLMSG_DONE) continue;
            CURL *easy = message->easy_handle;
            long status = 0;
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
            if (message->data.result != CURLE_OK || status < 200 || status > 299) {
                if (failed++ == 0) {
                    fprintf(stderr, "request failed: %s, HTTP %ld\n", curl_easy_strerror(message->data.result), status);
                }
            }
            completed++;
            curl_multi_remove_handle(multi, easy);
            if (started < total) {
                started++;
                curl_multi_add_handle(multi, easy);
            }
        }
        if (completed < total) curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &wall_end);

    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double wall = (double)(wall_end.tv_sec - wall_start.tv_sec) + (double)(wall_end.tv_nsec - wall_start.tv_nsec) / 1e9;
    double cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    /* Machine-readable for bench/delivery.sh: requests, wall seconds, CPU seconds, failures. */
    printf("%ld %.6f %.6f %ld\n", completed, wall, cpu, failed);

    for (int i = 0; i < concurrency; i++) {
        if (handles[i]) curl_easy_cleanup(handles[i]);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    free(handles);
    free(body);
    free(header_text);
    return failed ? 1 : 0;
}
