import Glibc

/// A lock around a value whose waiters sleep at once, for critical sections that do I/O.
///
/// Swift's `Mutex` is the right lock for short sections, but on Linux it is a
/// priority-inheritance futex: a contended waiter enters the kernel and spins there for as long
/// as the owner is running. Around a SQLite transaction that ends in an fsync, that spinning took
/// a fifth of the delivery thread's CPU while the ingest thread held the store. A plain
/// `pthread_mutex_t` parks the waiter instead, leaving the core to the owner.
///
/// `@unchecked Sendable` because `value` is only ever touched between `pthread_mutex_lock` and
/// `pthread_mutex_unlock` of the one mutex this object owns.
final class SleepingMutex<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
