import Foundation

/// Kill tests: `HAT_FAULT=NAME:K` sends SIGKILL to rank 0 the K-th time the process passes the point NAME
/// ("inner", "jacobian-batch", "boundary", "checkpoint-verified", "checkpoint-renamed"). A real SIGKILL at
/// a chosen moment, for the resume tests; unset, it does nothing.
public final class FaultInjection {
    let target: (name: String, count: Int)?
    /// Counted over the process, so that a sweep point's later calibrations (ψ̃ steps) can be hit too.
    nonisolated(unsafe) static var hits = 0
    let rank: Int

    public init(rank: Int) {
        self.rank = rank
        let spec = ProcessInfo.processInfo.environment["HAT_FAULT"] ?? ""
        let parts = spec.split(separator: ":")
        target = parts.count == 2 ? (String(parts[0]), Int(parts[1]) ?? 1) : nil
    }

    public func hit(_ name: String) {
        guard rank == 0, let target, target.name == name else { return }
        FaultInjection.hits += 1
        if FaultInjection.hits == target.count { kill(getpid(), SIGKILL) }
    }
}
