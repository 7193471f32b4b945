import Foundation

/// Rate-limited progress lines of a long phase: at most one every `interval` seconds (0: every one), and
/// none in a phase shorter than that, so that a small run's log keeps its shape. `begin` starts a
/// phase; `due` says whether a line may be printed now. Used on the root's thread only.
public final class ProgressThrottle: @unchecked Sendable {
    /// Seconds between two lines: `HAT_PROGRESS_SECONDS` (0 prints every line, for tests), else 5.
    public static func interval(_ environment: [String: String]) -> Double {
        guard let text = environment["HAT_PROGRESS_SECONDS"], let v = Double(text), v.isFinite, v >= 0 else { return 5 }
        return v
    }

    public let interval: Double
    private var last = Date()

    public init(interval: Double) { self.interval = interval }

    public func begin() { last = Date() }

    public func due() -> Bool {
        let now = Date()
        guard now.timeIntervalSince(last) >= interval else { return false }
        last = now
        return true
    }
}

/// Progress of a phase over items on the root rank (its share of them; the other ranks work alike):
/// "NAME: done/total STEP, rate per second, about T s left", rate-limited by a `ProgressThrottle`.
public final class PhaseProgress: @unchecked Sendable {
    let name: String, unit: String, total: Int
    let log: Logger
    let throttle: ProgressThrottle
    let started = Date()
    var done = 0

    public init(_ name: String, unit: String, total: Int, log: Logger,
                interval: Double = ProgressThrottle.interval(ProcessInfo.processInfo.environment)) {
        self.name = name; self.unit = unit; self.total = total; self.log = log
        throttle = ProgressThrottle(interval: interval)
        throttle.begin()
    }

    /// One more item done; a line when one is due.
    public func tick() {
        done += 1
        guard done < total, throttle.due() else { return }
        let elapsed = Date().timeIntervalSince(started)
        let rate = Double(done) / max(elapsed, 1e-9)
        log(String(format: "%@: %d/%d %@ on this rank, %.1f per second, about %.0f s left", name, done, total, unit, rate,
                   Double(total - done) / rate))
    }
}
