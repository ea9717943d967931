import Foundation

/// The process's file-descriptor limit (`RLIMIT_NOFILE`): every open connection, store file, plugin
/// pipe and listener takes one, and running out turns into failed connects.
public enum DescriptorLimit {
    /// Treated as the limit when the soft limit is unlimited or absurdly high, so that sizes
    /// derived from it stay reasonable.
    static let ceiling = 1 << 20

    /// Raises the soft limit to the hard one (a daemon with thousands of connections needs more
    /// than the usual 1024) and returns the soft limit now in force.
    @discardableResult
    public static func raiseToHard() -> Int {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0, limit.rlim_max > rlim_t(ceiling) {
                // Some kernels refuse an unlimited soft limit; settle for a large finite one.
                raised.rlim_cur = rlim_t(ceiling)
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
            }
        }
        return soft
    }

    /// The soft limit in force.
    public static var soft: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return limit.rlim_cur >= rlim_t(ceiling) ? ceiling : Int(limit.rlim_cur)
    }
}
