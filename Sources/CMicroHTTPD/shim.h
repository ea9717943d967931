#ifndef LOYALI_CMICROHTTPD_SHIM_H
#define LOYALI_CMICROHTTPD_SHIM_H
// libmicrohttpd's MHD_start_daemon is variadic, which Swift cannot call; this wrapper takes every
// setting loyali-hooks uses as a plain parameter and passes them as an MHD_OPTION_ARRAY.
#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <string.h>
#include <microhttpd.h>

/// Told the status of every answer libmicrohttpd makes by itself (its error responses).
typedef void (*loyali_status_callback)(void *context, unsigned int status);

/// A ``loyali_status_callback`` and its context, passed to libmicrohttpd as its logger's closure.
struct loyali_status_hook {
    loyali_status_callback callback;
    void *context;
};

/// libmicrohttpd's logger (MHD_USE_ERROR_LOG): every message is dropped, except the one it
/// logs before sending an error response of its own, whose status is reported to the hook.
static inline void loyali_mhd_logger(void *cls, const char *format, va_list arguments) {
    if (cls == NULL || format == NULL || strstr(format, "HTTP response code is %u") == NULL) return;
    const struct loyali_status_hook *hook = (const struct loyali_status_hook *)cls;
    hook->callback(hook->context, va_arg(arguments, unsigned int));
}

/// Starts a daemon with its own polling thread(s) (`flags` includes
/// MHD_USE_INTERNAL_POLLING_THREAD) and no socket of its own (`flags` includes
/// MHD_USE_NO_LISTEN_SOCKET: connections come through MHD_add_connection), with:
/// - `thread_pool_size` polling threads (0 or 1: one thread);
/// - at most `connection_limit` connections, `per_ip_limit` of them from one address (0: none);
/// - `timeout_seconds` of inactivity before a connection, idle keep-alive included, is closed;
/// - `memory_limit` bytes per connection for the request line, headers and read buffer (MHD
///   answers 431 or 414 beyond it);
/// - `completed` called when a request ends, `notify` when a connection opens or closes,
///   `uri_log` when a request line has been parsed (it must return NULL), and `status_hook`
///   (with MHD_USE_ERROR_LOG) for each error answer libmicrohttpd makes by itself.
static inline struct MHD_Daemon *loyali_mhd_start(
    unsigned int flags,
    MHD_AccessHandlerCallback handler, void *handler_cls,
    MHD_RequestCompletedCallback completed, void *completed_cls,
    MHD_NotifyConnectionCallback notify, void *notify_cls,
    void *(*uri_log)(void *cls, const char *uri, struct MHD_Connection *connection), void *uri_log_cls,
    unsigned int thread_pool_size, unsigned int connection_limit, unsigned int per_ip_limit,
    unsigned int timeout_seconds, size_t memory_limit, struct loyali_status_hook *status_hook)
{
    struct MHD_OptionItem options[] = {
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)loyali_mhd_logger, status_hook },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, completed_cls },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify, notify_cls },
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, uri_log_cls },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)connection_limit, NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)per_ip_limit, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout_seconds, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)memory_limit, NULL },
        { thread_pool_size > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)thread_pool_size, NULL },
        { MHD_OPTION_END, 0, NULL },
    };
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// The socket of a connection, or -1.
static inline int loyali_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : (int)info->connect_fd;
}

/// The pointer stored for a connection in the MHD_OPTION_NOTIFY_CONNECTION callback, or NULL.
static inline void *loyali_mhd_socket_context(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info == NULL ? NULL : info->socket_context;
}

/// The peer address of a connection, or NULL.
static inline const struct sockaddr *loyali_mhd_client_address(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info == NULL ? NULL : info->client_addr;
}

/// Milliseconds since the kernel last received data on TCP socket `fd`, or -1 if unknown.
/// (The polling threads read every byte as it comes, so the socket's own record is the only
/// place that says when a request's bytes arrived.)
static inline long loyali_tcp_ms_since_data(int fd) {
#ifdef TCP_INFO
    struct tcp_info info;
    socklen_t length = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    return (long)info.tcpi_last_data_recv;
#else
    (void)fd;
    return -1;
#endif
}

/// epoll_event is packed on x86_64, which Swift does not lay out as C does: these wrappers
/// keep it on the C side. Registers (or, with `modify`, changes) `fd` on `epoll_fd` for `events`,
/// reported with `id`.
static inline int loyali_epoll_set(int epoll_fd, int fd, uint32_t events, uint64_t id, int modify) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = id;
    return epoll_ctl(epoll_fd, modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
}

/// Removes `fd` from `epoll_fd`.
static inline int loyali_epoll_remove(int epoll_fd, int fd) {
    struct epoll_event event = { 0 };
    return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, &event);
}

/// Waits up to `timeout_ms` for at most `max` events (max <= 64); fills `ids` and `events`.
static inline int loyali_epoll_wait(int epoll_fd, uint64_t *ids, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event ready[64];
    if (max > 64) max = 64;
    int count = epoll_wait(epoll_fd, ready, max, timeout_ms);
    for (int i = 0; i < count; i++) {
        ids[i] = ready[i].data.u64;
        events[i] = ready[i].events;
    }
    return count;
}

#endif
