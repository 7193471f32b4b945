import Foundation

/// A polite stop: SIGTERM or SIGUSR1 (what `srun` sends at a time limit, what `mpirun` forwards) asks a long
/// run to stop at its next safe point, write a checkpoint and exit 75. The handler only stores the signal
/// number (async-signal-safe); the ranks then agree on it in a collective (`CollectiveDriver` does so after
/// every served command), so that all of them stop at the same point even when the signal reached one rank.
public enum StopSignal {
    static let flag: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()
    nonisolated(unsafe) private static var installedSignals: Set<Int32> = []
    nonisolated(unsafe) private static var agreedStop = false

    /// The signals that request a stop once `install` ran.
    public static let signals: [Int32] = [SIGTERM, SIGUSR1]

    /// Route SIGTERM and SIGUSR1 to the stop flag (instead of ending the process).
    public static func install() {
        _ = flag
        for sig in signals {
            signal(sig, stopSignalHandler)
            installedSignals.insert(sig)
        }
    }

    /// Whether `install` took over `sig` (other handlers leave it alone).
    public static func handles(_ sig: Int32) -> Bool { installedSignals.contains(sig) }

    /// The signal this process received (0: none).
    public static var received: Int32 { Int32(flag.pointee) }

    /// Whether every rank has agreed that a stop was requested (set by `agree` and by `CollectiveDriver`).
    public static var agreed: Bool { agreedStop }

    /// Record the outcome of an agreement reached elsewhere (e.g. folded into another all-reduce).
    static func noteAgreement(_ stop: Bool) { if stop { agreedStop = true } }

    /// Collective: true on every rank when any rank received a stop signal (or one was agreed before).
    public static func agree(_ comm: Communicator) throws -> Bool {
        let any = try comm.allReduce([received != 0 || agreedStop ? 1 : 0])[0] == 1
        noteAgreement(any)
        return agreedStop
    }

    /// Ask for a stop from within the process (a checkpoint that cannot be written ends the run at the next
    /// safe point, as a signal would; the caller says why).
    public static func request() { flag.pointee = sig_atomic_t(SIGTERM) }

    /// For tests within one process: forget a received or agreed stop.
    public static func clear() { flag.pointee = 0; agreedStop = false }
}

private func stopSignalHandler(_ sig: Int32) {
    StopSignal.flag.pointee = sig_atomic_t(sig)
}
