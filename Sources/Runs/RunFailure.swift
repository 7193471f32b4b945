/// Exit codes of CONTRACT.md.
public enum HatExit {
    public static let badInput: Int32 = 2
    public static let notConverged: Int32 = 3
    public static let io: Int32 = 4
    /// Stopped on SIGTERM/SIGUSR1 after writing a checkpoint (EX_TEMPFAIL): resume with --resume.
    public static let stopped: Int32 = 75
}

/// How a run that wrote (or kept) its results ended; the command line maps it to an exit code.
public enum RunEnd: Equatable, Sendable {
    case converged
    case notConverged
    /// Stopped by a signal at a checkpoint: run it again (or with --resume) to go on.
    case stopped

    public var exitCode: Int32 {
        switch self {
        case .converged: return 0
        case .notConverged: return HatExit.notConverged
        case .stopped: return HatExit.stopped
        }
    }
}

/// A failure with its CONTRACT exit code, thrown where a caller may survive it (a sweep records a failed
/// point and goes on); uncaught, the command line reports it once and ends with its code.
public struct HatFailure: Error, CustomStringConvertible {
    public let message: String
    public let code: Int32
    public init(_ message: String, code: Int32) { self.message = message; self.code = code }
    public var description: String { message }
}
