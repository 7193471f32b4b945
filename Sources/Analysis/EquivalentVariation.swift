import Foundation
import HATModel
import Parallel

/// The equivalent variation of every state (HAT-SPEC §6.5): the multiplier λτ = x on total period resources
/// at the OLD prices that gives the household the value it has in the new equilibrium,
///     V^x(a, s) = ΔV(a, s),   V^x = σ log Σ_j exp((ψ_j + v^x_j)/σ),
/// where v^x solves the household problem at the old prices with λτ = x from the cold start.
///
/// Continuity: the author's solves stop at the first step with max|Δc| < 1e-12, and the value function's
/// level converges more slowly than the policy (at rate β), so V^x jumps by up to ~1e-5 wherever the step
/// count changes with x, and some states have no root at all. Here every solve takes the same number N of
/// Coleman steps from the cold start, N = the most steps any probe multiplier needs to reach the tolerance,
/// plus a margin; V^x is then continuous in x, every bracketed root exists, and each solve still checks that
/// its policy met the tolerance (else the state is flagged). V^x differs from the author's by the level
/// change of those few extra steps (measured in docs/WELFARE.md, "The equivalent variation of every state").
///
/// Cost: a household solve at x gives V^x for every state at once, but each state's root needs a solve
/// at its own x. So: (1) solve at many shared multipliers (nodes) spanning a bracket, spread over the ranks,
/// widening the bracket until every state's root is inside; (2) for each state, the root of a local cubic
/// through the nodes around its sign change (the one nearest the author's start 1.05) is a start good to about the nodes'
/// interpolation error; (3) a bracketed, safeguarded secant on that state's own solves polishes it to
/// `valueTolerance` (typically one or two solves). States are spread over the ranks; each state's result
/// depends on the state alone, so the multipliers are bitwise the same for any rank count.
public struct EquivalentVariation: Sendable {
    public struct Settings: Sendable {
        /// Household tolerance of every solve at the old prices (the author's 1e-12).
        public var householdTolerance = 1e-12
        public var householdMaxIterations = 500
        /// A state is converged when |V^x − ΔV| ≤ this (value units; |Δx| ≤ 1e-10, the author's tolerance on
        /// x, is about 1e-9 in value at the baseline).
        public var valueTolerance = 5e-10
        /// The first bracket of multipliers (HAT-SPEC §9 item 14), widened as needed.
        public var lower = 0.9, upper = 1.2
        /// Shared solves across the first bracket.
        public var nodes = 41
        /// Steps added to the most any node needs (see the type's comment).
        public var stepMargin = 10
        /// Up to this many states, every state's values at every state's first multiplier are gathered
        /// (nState² doubles: 8 MB for 1000 states); above it each state refines from its own points only.
        public var shareLimit = 2048
        /// The author's starting multiplier: where V^x is not monotone (states whose debt service exceeds their
        /// income, R a + w z < 0, have a second root below 1), the root nearest to it is taken.
        public var start = 1.05
        /// Solves per state in the polishing stage.
        public var maxEvaluations = 40
        public init() {}
    }

    /// λτ of each state (`[shock][asset]`); gross: 1.05 is a 5 % gain.
    public var multipliers: [Double]
    public var converged: [Bool]
    /// V^x − ΔV at the returned multiplier.
    public var residuals: [Double]
    /// Household solves spent on each state in the polishing stage.
    public var solves: [Int]
    /// The shared multipliers solved in the first stage.
    public var nodes: [Double]
    /// Coleman steps of every solve (from the cold start), then the final extra step.
    public var steps: Int
    /// States where V^x − ΔV changes sign more than once on the nodes: the EV is not unique there (the root
    /// nearest `Settings.start` is reported).
    public var multipleRoots: [Bool]
    /// ΔV as used (given, or recomputed with the same steps).
    public var target: [Double]

    public var unconvergedCount: Int { converged.filter { !$0 }.count }
    public var totalSolves: Int { nodes.count + solves.reduce(0, +) }

    /// Compute for every state (collective).
    /// - Parameters:
    ///   - old: the household problem at the old prices (its `resourceScale` is replaced by x).
    ///   - target: ΔV of every state, from the new equilibrium.
    /// What the new values ΔV are.
    public enum Target: Sendable {
        /// Given (the author's: the reported new equilibrium's household, tolerance 1e-10).
        case values([Double])
        /// Solved at the new prices with the same fixed steps from the cold start as the old-price values, so
        /// that the two sides' value levels match: no change gives λ = 1 exactly.
        case sameSteps(HouseholdProblem)
    }

    public static func compute(old: HouseholdProblem, target: [Double], settings: Settings = Settings(),
                               communicator comm: Communicator) throws -> EquivalentVariation {
        try compute(old: old, target: .values(target), settings: settings, communicator: comm)
    }

    /// `log` gets progress lines on the root rank (this rank's share of each phase, rate and time left) at
    /// most every `HAT_PROGRESS_SECONDS` (default 5).
    public static func compute(old: HouseholdProblem, target given: Target, settings: Settings = Settings(),
                               communicator comm: Communicator, log: Logger = .silent) throws -> EquivalentVariation {
        let na = old.assets.count, nS = old.income.count
        let nState = na * nS
        var target: [Double]
        if case let .values(v) = given { target = v } else { target = [] }
        precondition(target.isEmpty || target.count == nState)
        let solver = HouseholdSolver(assets: na, shocks: nS, varieties: old.varieties)
        /// Progress of a phase over `count` items spread over the ranks.
        func progress(_ phase: String, _ count: Int, unit: String) -> PhaseProgress {
            PhaseProgress("equivalent variation, \(phase)", unit: unit,
                          total: Partition(count: count, parts: comm.size).range(of: comm.rank).count, log: log)
        }

        /// V^x of every state after exactly `steps` Coleman steps, or nil where the problem is infeasible at
        /// x or the policy has not met the tolerance by then.
        var steps = 0
        func values(at x: Double) -> [Double]? {
            var pr = old
            pr.resourceScale = x
            do {
                let stats = try solver.solve(pr, tolerance: 0, maxIterations: steps)
                guard stats.policyChange < settings.householdTolerance else { return nil }
            } catch { return nil }
            return AnalysedHousehold.exAnteValues(problem: pr, values: solver.values)
        }

        // Resources x(R a₁ + w z) + τ − a₁ must stay positive at the borrowing limit with the lowest income:
        // when R a₁ + w z_min < 0 a larger x scales up the debt service and x has a ceiling.
        let zMin = old.income.z.min() ?? 1
        let atLimit = old.rate * old.assets[0] + old.wage * zMin
        let ceiling = atLimit < 0 ? (old.transfer - old.assets[0]) / -atLimit : .infinity

        // Stage 1: shared nodes, widened until every state's root is bracketed.
        var lo = settings.lower, hi = min(settings.upper, 0.99 * ceiling)
        guard lo < hi else {
            throw AnalysisError("equivalent variation: no feasible bracket of multipliers (the debt service at the borrowing limit caps x at \(ceiling))")
        }
        // The step count: the most steps the author's stopping rule takes at any node, plus the margin.
        var xs: [Double] = (0..<settings.nodes).map { lo + (hi - lo) * Double($0) / Double(settings.nodes - 1) }
        let probes = xs
        let probing = progress("step counts", probes.count, unit: "multipliers")
        let needed: [[Double]] = try distributedMap(count: probes.count, communicator: comm) { i in
            defer { probing.tick() }
            var pr = old
            pr.resourceScale = probes[i]
            let n = (try? solver.solve(pr, tolerance: settings.householdTolerance, maxIterations: settings.householdMaxIterations))
                .map { $0.converged ? Double($0.iterations) : .infinity } ?? 0
            return ([n], "")
        }
        let most = needed.map { $0[0] }.max() ?? 0
        guard most.isFinite, most > 0 else {
            throw AnalysisError("equivalent variation: the household problem at the old prices does not converge to \(settings.householdTolerance) within \(settings.householdMaxIterations) iterations at some multiplier in [\(lo), \(hi)]")
        }
        steps = Int(most) + settings.stepMargin
        if case let .sameSteps(newProblem) = given {
            // Every rank solves it alike (cold start, fixed steps): the same bits everywhere.
            let newSolver = HouseholdSolver(assets: na, shocks: nS, varieties: newProblem.varieties)
            let stats: HouseholdSolveStats
            do { stats = try newSolver.solve(newProblem, tolerance: 0, maxIterations: steps) } catch {
                throw AnalysisError("equivalent variation: the household problem at the new prices: \(error)")
            }
            guard stats.policyChange < settings.householdTolerance else {
                throw AnalysisError("equivalent variation: the household problem at the new prices does not reach \(settings.householdTolerance) in \(steps) steps")
            }
            target = AnalysedHousehold.exAnteValues(problem: newProblem, values: newSolver.values)
        }
        var vs: [[Double]] = try solveNodes(xs, states: nState, comm: comm, progress: progress("shared solves", xs.count, unit: "multipliers"),
                                            values: values)
        for _ in 0..<12 {
            var needHigher = false, needLower = false
            for k in 0..<nState {
                let g = (0..<xs.count).compactMap { n in vs[n][k].isFinite ? vs[n][k] - target[k] : nil }
                guard let gMin = g.min(), let gMax = g.max() else { continue }
                if gMax < 0 { needHigher = true }
                if gMin > 0 { needLower = true }
            }
            if !needHigher && !needLower { break }
            let width = hi - lo
            var added: [Double] = []
            if needHigher && hi < 0.99 * ceiling {
                let newHi = min(hi + width, 0.99 * ceiling)
                added += (1...4).map { hi + (newHi - hi) * Double($0) / 4 }
                hi = newHi
            }
            if needLower && lo > 1e-3 {
                let newLo = max(lo - width, lo / 4)
                added += (0..<4).map { newLo + (lo - newLo) * Double($0) / 4 }
                lo = newLo
            }
            if added.isEmpty { break }
            let addedValues = try solveNodes(added, states: nState, comm: comm,
                                             progress: progress("widening the bracket", added.count, unit: "multipliers"), values: values)
            let merged = (xs.indices.map { (xs[$0], vs[$0]) } + added.indices.map { (added[$0], addedValues[$0]) })
                .sorted { $0.0 < $1.0 }
            xs = merged.map(\.0); vs = merged.map(\.1)
        }

        // Stage 2: one solve per state at the root of its local cubic. With few enough states every state's
        // value at every such multiplier is shared (gathered), so that each state's next step has other
        // states' points within ~1e-5 of its root and usually lands within the tolerance.
        let share = nState <= settings.shareLimit
        let starting = progress("first solves", nState, unit: "states")
        let first: [FirstSolve] = try distributedMap(count: nState, communicator: comm) { k in
            defer { starting.tick() }
            let g = (0..<xs.count).map { vs[$0][k] - target[k] }
            guard let (p, q) = nodeBracket(xs, g, start: settings.start), g[p] != 0 else {
                return (FirstSolve(x: .nan, values: []), "")
            }
            let x = cubicRoot(xs, g, p, q)
            let v = values(at: x) ?? [Double](repeating: .nan, count: nState)
            return (FirstSolve(x: x, values: share ? v : [v[k]]), "")
        }
        // Stage 3: per state, a bracketed secant (Illinois) from the tightest sign change among its points.
        let polishing = progress("polishing", nState, unit: "states")
        let results: [StateRoot] = try distributedMap(count: nState, communicator: comm) { k in
            defer { polishing.tick() }
            let g = (0..<xs.count).map { vs[$0][k] - target[k] }
            let finite = xs.indices.filter { g[$0].isFinite }
            guard let (p, q) = nodeBracket(xs, g, start: settings.start) else {
                // Not bracketed within the feasible multipliers: report the node closest to a root.
                let best = finite.min { abs(g[$0]) < abs(g[$1]) }
                return (StateRoot(x: best.map { xs[$0] } ?? 1, residual: best.map { g[$0] } ?? 0, converged: false, solves: 0), "")
            }
            if g[p] == 0 { return (StateRoot(x: xs[p], residual: 0, converged: true, solves: 0), "") }
            var points = [(xs[p], g[p]), (xs[q], g[q])]
            let own = first[k].x
            points.append((own, (share ? first[k].values[k] : first[k].values[0]) - target[k]))
            if share {
                for j in 0..<nState where j != k {
                    let x = first[j].x
                    if x > xs[p] && x < xs[q] && first[j].values[k].isFinite { points.append((x, first[j].values[k] - target[k])) }
                }
            }
            let root = refine(points, near: own, settings: settings) { x in values(at: x).map { $0[k] - target[k] } ?? .nan }
            var out = StateRoot(x: root.x, residual: root.residual, converged: root.converged, solves: root.solves + 1)
            out.signChanges = zip(finite, finite.dropFirst()).filter { g[$0] == 0 || (g[$0] < 0) != (g[$1] < 0) }.count
            return (out, "")
        }
        return EquivalentVariation(multipliers: results.map(\.x), converged: results.map(\.converged),
                                   residuals: results.map(\.residual), solves: results.map(\.solves), nodes: xs, steps: steps,
                                   multipleRoots: results.map { $0.signChanges > 1 }, target: target)
    }

    /// V^x at every node (NaN rows where infeasible), spread over the ranks.
    static func solveNodes(_ xs: [Double], states: Int, comm: Communicator, progress: PhaseProgress,
                           values: (Double) -> [Double]?) throws -> [[Double]] {
        try distributedMap(count: xs.count, communicator: comm) { i in
            defer { progress.tick() }
            return (values(xs[i]) ?? [Double](repeating: .nan, count: states), "")
        }
    }

    /// The sign change between finite neighbouring nodes nearest to the author's start (where V^x is not
    /// monotone there may be several).
    static func nodeBracket(_ xs: [Double], _ g: [Double], start: Double) -> (Int, Int)? {
        let finite = xs.indices.filter { g[$0].isFinite }
        var bracket: (Int, Int)?
        for (p, q) in zip(finite, finite.dropFirst()) where g[p] == 0 || (g[p] < 0) != (g[q] < 0) {
            if let (bp, bq) = bracket, abs(0.5 * (xs[bp] + xs[bq]) - start) <= abs(0.5 * (xs[p] + xs[q]) - start) { continue }
            bracket = (p, q)
        }
        return bracket
    }

    /// The root in [x_p, x_q] of the cubic through up to four finite nodes around the bracket (bisection).
    static func cubicRoot(_ xs: [Double], _ g: [Double], _ p: Int, _ q: Int) -> Double {
        let finite = xs.indices.filter { g[$0].isFinite }
        let position = finite.firstIndex(of: p)!
        let window = Array(finite[max(0, position - 1)...min(finite.count - 1, position + 2)])
        func cubic(_ x: Double) -> Double {
            var total = 0.0
            for a in window {
                var basis = 1.0
                for b in window where b != a { basis *= (x - xs[b]) / (xs[a] - xs[b]) }
                total += basis * g[a]
            }
            return total
        }
        var l = xs[p], r = xs[q], gl = g[p]
        for _ in 0..<200 where r - l > 1e-15 * r {
            let mid = 0.5 * (l + r), gm = cubic(mid)
            if (gm < 0) == (gl < 0) { l = mid; gl = gm } else { r = mid }
        }
        return 0.5 * (l + r)
    }

    /// A root from known points (x, g): done if a point is within the tolerance, else solves starting from
    /// the sign change next to `near`: the first at the inverse cubic through it and its neighbours, then the
    /// Illinois variant of regula falsi. An infeasible x (NaN) is bisected away from.
    static func refine(_ known: [(Double, Double)], near: Double, settings: Settings,
                       evaluate: (Double) -> Double) -> (x: Double, residual: Double, converged: Bool, solves: Int) {
        let points = known.filter { $0.1.isFinite && $0.0.isFinite }.sorted { $0.0 < $1.0 }
        var best = points.min { abs($0.1) < abs($1.1) }!
        if abs(best.1) <= settings.valueTolerance { return (best.0, best.1, true, 0) }
        // Adjacent sign changes; the one closest to `near`.
        var a = points.first!, b = points.last!
        var distance = Double.infinity
        var at = 0
        for (i, (u, v)) in zip(points, points.dropFirst()).enumerated() where (u.1 < 0) != (v.1 < 0) {
            let d = near < u.0 ? u.0 - near : (near > v.0 ? near - v.0 : 0)
            if d < distance { distance = d; a = u; b = v; at = i }
        }
        // First step: inverse cubic interpolation through the bracket and its outer neighbours (x as a
        // polynomial in g at g = 0), when g is monotone there; regula falsi otherwise and afterwards.
        var inverse: Double?
        let window = Array(points[max(0, at - 1)...min(points.count - 1, at + 2)])
        let increasing = zip(window, window.dropFirst()).allSatisfy { $0.1 < $1.1 }
        let decreasing = zip(window, window.dropFirst()).allSatisfy { $0.1 > $1.1 }
        if window.count >= 3 && (increasing || decreasing) {
            var x = 0.0
            for (i, p) in window.enumerated() {
                var basis = 1.0
                for (j, q) in window.enumerated() where j != i { basis *= (0 - q.1) / (p.1 - q.1) }
                x += basis * p.0
            }
            if x > a.0 && x < b.0 { inverse = x }
        }
        var solves = 0
        var side = 0                      // which end moved last: -1 a, +1 b
        while solves < settings.maxEvaluations && b.0 - a.0 > 4 * b.0.ulp {
            var x = (a.0 * b.1 - b.0 * a.1) / (b.1 - a.1)
            if solves == 0, let guess = inverse { x = guess }
            if !(x > a.0 && x < b.0) { x = 0.5 * (a.0 + b.0) }
            let gx = evaluate(x)
            solves += 1
            if gx.isFinite && abs(gx) < abs(best.1) { best = (x, gx) }
            if gx.isFinite && abs(gx) <= settings.valueTolerance { return (x, gx, true, solves) }
            if !gx.isFinite {
                b = (x, b.1)                // treat as beyond the root on the high side
                side = 1
            } else if (gx < 0) == (a.1 < 0) {
                a = (x, gx)
                if side == -1 { b.1 *= 0.5 }   // Illinois: halve the stale end's value
                side = -1
            } else {
                b = (x, gx)
                if side == 1 { a.1 *= 0.5 }
                side = 1
            }
        }
        return (best.0, best.1, false, solves)
    }
}

/// A state's first solve in stage 2: its multiplier and V there (every state's, or only its own).
struct FirstSolve: Packable {
    var x: Double
    var values: [Double]
    init(x: Double, values: [Double]) { self.x = x; self.values = values }
    func pack(into m: inout MessageWriter) { m.write(x); m.write(values) }
    init(unpacking m: inout MessageReader) throws { x = try m.read(); values = try m.read() }
}

/// One state's root, as gathered from its rank.
struct StateRoot: Packable {
    var x: Double, residual: Double, converged: Bool, solves: Int
    /// Sign changes of V^x − ΔV between the nodes (more than one: the root is not unique).
    var signChanges = 0
    init(x: Double, residual: Double, converged: Bool, solves: Int) {
        self.x = x; self.residual = residual; self.converged = converged; self.solves = solves
    }
    func pack(into m: inout MessageWriter) { m.write(x); m.write(residual); m.write(converged); m.write(solves); m.write(signChanges) }
    init(unpacking m: inout MessageReader) throws {
        x = try m.read(); residual = try m.read(); converged = try m.read(); solves = try m.read(); signChanges = try m.read()
    }
}
