import Foundation

/// Independent scalar equations g_i(t_i) = 0, each g_i increasing in t_i, evaluated together (one call
/// returns every g_i). Each is bracketed by expanding steps from its start, then solved by the Illinois
/// variant of regula falsi with bisection as the safeguard. A non-finite g_i (an infeasible point) is
/// treated as "too far": the search backs off towards the last finite point.
///
/// Used where a residual is monotone in one unknown while the others are held fixed: bond demand rises with
/// R and with β (HAT-SPEC §4.3), also where the residual is flat (every household at the borrowing limit),
/// where a Newton-type method has no slope to follow.
public struct MonotoneBrackets: Sendable {
    /// Stop a component when |g_i| ≤ tolerance or its bracket is a few ulps wide.
    public var tolerance: Double
    public var maxEvaluations: Int
    /// First expansion step (doubles on every expansion).
    public var initialStep: Double

    public init(tolerance: Double, maxEvaluations: Int = 200, initialStep: Double = 0.02) {
        self.tolerance = tolerance; self.maxEvaluations = maxEvaluations; self.initialStep = initialStep
    }

    public struct Result: Sendable {
        public var t: [Double]
        public var g: [Double]
        public var converged: Bool
        public var evaluations: Int
        /// The full output of the evaluation at `t` (what `g` was extracted from), for callers that need more.
        public var lastOutput: [Double]
    }

    /// Solve from `start`, keeping t_i within the open interval (lower_i, upper_i). `evaluate` returns the
    /// full output at t; `extract` picks the g_i from it.
    public func solve(from start: [Double], lower: [Double], upper: [Double],
                      evaluate: ([Double]) throws -> [Double],
                      extract: ([Double]) -> [Double]) rethrows -> Result {
        let n = start.count
        struct Side { var t: Double; var g: Double }
        var below = [Side?](repeating: nil, count: n)      // g < 0 here
        var above = [Side?](repeating: nil, count: n)      // g > 0 here
        var badAbove = [Double?](repeating: nil, count: n) // non-finite here, moving up
        var badBelow = [Double?](repeating: nil, count: n)
        var step = [Double](repeating: initialStep, count: n)
        var keep = [Int](repeating: 0, count: n)           // Illinois: consecutive retentions of one end
        var t = start
        var evaluations = 0
        var output = try evaluate(t)
        evaluations += 1
        var g = extract(output)
        var lastFinite = [Double?](repeating: nil, count: n)
        var probes = [Int](repeating: 0, count: n)         // tries around an infeasible start
        // The best point seen (smallest max |g| with every g finite), returned if the cap ends the search.
        var best: (t: [Double], g: [Double], output: [Double])?
        func remember() {
            guard g.allSatisfy({ $0.isFinite }) else { return }
            if best == nil || normInf(g) < normInf(best!.g) { best = (t, g, output) }
        }
        remember()

        func done(_ i: Int) -> Bool {
            if g[i].isFinite && abs(g[i]) <= tolerance { return true }
            if let b = below[i], let a = above[i] {
                return abs(a.t - b.t) <= 4 * max(abs(a.t), abs(b.t), 1e-300).ulp
            }
            return false
        }
        while !(0..<n).allSatisfy(done) && evaluations < maxEvaluations {
            var next = t
            for i in 0..<n where !done(i) {
                let gi = g[i]
                if gi.isFinite {
                    lastFinite[i] = t[i]
                    if gi < 0 { below[i] = Side(t: t[i], g: gi) } else { above[i] = Side(t: t[i], g: gi) }
                } else if let from = lastFinite[i] {
                    if t[i] > from { badAbove[i] = t[i] } else { badBelow[i] = t[i] }
                } else {
                    // Infeasible at the start with no finite point yet: try both sides, farther each time
                    // (−s, +s, −2s, +2s, …), within the bounds.
                    probes[i] += 1
                    let size = initialStep * Double(1 << min((probes[i] + 1) / 2, 40))
                    let candidate = start[i] + (probes[i] % 2 == 1 ? -size : size)
                    next[i] = min(max(candidate, lower[i].isFinite ? 0.5 * (start[i] + lower[i]) : candidate),
                                  upper[i].isFinite ? 0.5 * (start[i] + upper[i]) : candidate)
                    continue
                }
                if let b = below[i], let a = above[i] {
                    // Bracketed: Illinois step, bisection if it leaves the bracket.
                    var gb = b.g, ga = a.g
                    if keep[i] >= 2 { if gi < 0 { ga *= 0.5 } else { gb *= 0.5 } }
                    var candidate = b.t - gb * (a.t - b.t) / (ga - gb)
                    let lo = min(a.t, b.t), hi = max(a.t, b.t)
                    if !(candidate > lo && candidate < hi) || !gi.isFinite { candidate = 0.5 * (lo + hi) }
                    next[i] = candidate
                    keep[i] = gi.isFinite ? keep[i] + 1 : 0
                } else if let b = below[i] {
                    // g < 0 so far: move up, towards the first infeasible point or the bound if there is one.
                    let ceiling = min(badAbove[i] ?? .infinity, upper[i])
                    var candidate = b.t + step[i]
                    if ceiling.isFinite { candidate = min(candidate, b.t + 0.5 * (ceiling - b.t)) }
                    next[i] = candidate
                    step[i] *= 2
                } else if let a = above[i] {
                    let floor = max(badBelow[i] ?? -.infinity, lower[i])
                    var candidate = a.t - step[i]
                    if floor.isFinite { candidate = max(candidate, a.t - 0.5 * (a.t - floor)) }
                    next[i] = candidate
                    step[i] *= 2
                }
            }
            // Illinois bookkeeping: reset the counter of a component whose new point lands on the other side.
            t = next
            output = try evaluate(t)
            evaluations += 1
            let previous = g
            g = extract(output)
            remember()
            for i in 0..<n where previous[i].isFinite && g[i].isFinite && (previous[i] < 0) != (g[i] < 0) { keep[i] = 0 }
        }
        let converged = (0..<n).allSatisfy(done)
        if !converged, let best { return Result(t: best.t, g: best.g, converged: false, evaluations: evaluations, lastOutput: best.output) }
        return Result(t: t, g: g, converged: converged, evaluations: evaluations, lastOutput: output)
    }
}
