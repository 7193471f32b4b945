import Foundation
import HATModel
import Parallel

/// The equivalent variation of every state (HAT-SPEC §6.5): the multiplier λτ = x on total period resources
/// at the OLD prices that gives the household the value it has in the new equilibrium,
///     V^x(a, s) = ΔV(a, s),   V^x = σ log Σ_j exp((ψ_j + v^x_j)/σ),
/// where v^x solves the household problem at the old prices with λτ = x. Two definitions of "solves":
///
/// - `author` (HAT-SPEC §6.5 as written): v^x from the cold start with the §2.2 stopping rule at 1e-12
///   (max|Δc| < 1e-12, then the final extra step), ΔV from the new equilibrium's reported household (1e-10).
///   The value's level converges at rate β, more slowly than the policy, so V^x carries the level error of
///   its own step count n(x); where n(x) changes, V^x jumps (by up to ~1e-5), and a root may sit on a jump.
/// - `converged`: v^x and ΔV both iterated until the values themselves are within `valueTolerance` of their
///   fixed point (McQueen–Porteus bounds, `HouseholdSolver.solveValues`), so V^x is a continuous function
///   of x and no change gives λ = 1.
///
/// Either way each state's root is bracketed: converged when two solves at most `multiplierTolerance`
/// (1e-10, the author's tolerance on x) apart have V^x − ΔV of opposite signs. The reported multiplier is
/// the end of that bracket with the smaller |V^x − ΔV|, and `residuals` is that end's V^x − ΔV. A state
/// whose final bracket straddles a change of the step count is flagged (`jumps`, author only).
///
/// Cost: a household solve at x gives V^x for every state at once, but each state's bracket needs solves
/// at its own x. So: (1) solve at many shared multipliers (nodes) spanning a bracket, spread over the ranks,
/// widening the bracket until every state's root is inside; (2) for each state, one solve at the root of a
/// local cubic through the nodes around its sign change (the one nearest the author's start 1.05), shared
/// with every state when there are few enough; (3) per state, a safeguarded bracketing secant (Illinois) on
/// its own solves, its steps kept away from the bracket's ends by just under half the tolerance so that
/// the solve next to the root closes the bracket. States are spread over the ranks; each state's result
/// depends on the state alone (converged solves warm-start from the nearest node's solution, then from the
/// state's own last solve), so the multipliers are bitwise the same for any rank count.
public struct EquivalentVariation: Sendable {
    /// Which household values the EV compares (see the type's comment).
    public enum Method: String, CaseIterable, Sendable {
        case author, converged
    }

    public struct Settings: Sendable {
        public var method = Method.author
        /// Policy tolerance of every solve at the old prices (the author's 1e-12).
        public var householdTolerance = 1e-12
        /// The author's iteration cap (§2.2: the loop ends there without an error).
        public var householdMaxIterations = 500
        /// Converged method: the bound on |v − v*| of every solve (value units), and its step cap.
        public var valueTolerance = 2e-12
        public var valueMaxIterations = 20_000
        /// A state is converged when its root is bracketed this tightly in x (the author's `hybr` tolerance).
        public var multiplierTolerance = 1e-10
        /// The first bracket of multipliers (HAT-SPEC §9 item 14), widened as needed.
        public var lower = 0.9, upper = 1.2
        /// Shared solves across the first bracket.
        public var nodes = 41
        /// Converged method: further shared solves at quantiles of the states' first root estimates, so that
        /// every state's first solve starts from (and aims by) a cubic through nearby solutions.
        public var denseNodes = 32
        /// Up to this many states, every state's values at every state's first multiplier are gathered
        /// (nState² doubles: 8 MB for 1000 states); above it each state refines from its own points only.
        public var shareLimit = 2048
        /// Converged method: the nodes' solutions are gathered on every rank (for warm starts) when they
        /// take at most this many doubles; above it every solve starts cold.
        public var warmStartLimit = 32_000_000
        /// The author's starting multiplier: where V^x is not monotone (states whose debt service exceeds their
        /// income, R a + w z < 0, have a second root below 1), the root nearest to it is taken.
        public var start = 1.05
        /// Solves per state in the polishing stage.
        public var maxEvaluations = 60
        public init() {}
    }

    public var method: Method
    /// λτ of each state (`[shock][asset]`); gross: 1.05 is a 5 % gain.
    public var multipliers: [Double]
    /// The state's root is bracketed within `multiplierTolerance`.
    public var converged: [Bool]
    /// V^x − ΔV at the returned multiplier.
    public var residuals: [Double]
    /// Width of each state's final bracket.
    public var bracketWidths: [Double]
    /// Author method: the final bracket straddles a change of the step count, so V^x may jump there.
    public var jumps: [Bool]
    /// Household solves spent on each state after the nodes (its first solve included).
    public var solves: [Int]
    /// The shared multipliers solved in the first stage.
    public var nodes: [Double]
    /// Coleman steps of all solves on all ranks (final extra steps included).
    public var householdSteps: Int
    /// States where V^x − ΔV changes sign more than once on the nodes: the EV is not unique there (the root
    /// nearest `Settings.start` is reported).
    public var multipleRoots: [Bool]
    /// ΔV as used (given, or solved by the converged method).
    public var target: [Double]

    public var unconvergedCount: Int { converged.filter { !$0 }.count }
    public var totalSolves: Int { nodes.count + solves.reduce(0, +) }

    /// What the new values ΔV are.
    public enum Target: Sendable {
        /// Given (the author's: the reported new equilibrium's household, tolerance 1e-10).
        case values([Double])
        /// The household problem at the new prices, solved by the method's own solve (cold start).
        case solved(HouseholdProblem)
    }

    public static func compute(old: HouseholdProblem, target: [Double], settings: Settings = Settings(),
                               communicator comm: Communicator) throws -> EquivalentVariation {
        try compute(old: old, target: .values(target), settings: settings, communicator: comm)
    }

    /// Compute for every state (collective). `log` gets progress lines on the root rank (this rank's share of
    /// each phase, rate and time left) at most every `HAT_PROGRESS_SECONDS` (default 5).
    public static func compute(old: HouseholdProblem, target given: Target, settings: Settings = Settings(),
                               communicator comm: Communicator, log: Logger = .silent) throws -> EquivalentVariation {
        let na = old.assets.count, nS = old.income.count
        let nState = na * nS, nAll = nState * old.varieties
        let method = settings.method
        let solver = HouseholdSolver(assets: na, shocks: nS, varieties: old.varieties)
        var localSteps = 0
        /// Progress of a phase over `count` items spread over the ranks.
        func progress(_ phase: String, _ count: Int, unit: String) -> PhaseProgress {
            PhaseProgress("equivalent variation, \(phase)", unit: unit,
                          total: Partition(count: count, parts: comm.size).range(of: comm.rank).count, log: log)
        }

        /// One solve of `problem` by the method: the step count, or nil where the problem is infeasible (or,
        /// converged method, its values do not converge). The solution stays in `solver`.
        func solve(_ problem: HouseholdProblem, from start: Start) -> Int? {
            do {
                switch method {
                case .author:
                    let stats = try solver.solve(problem, tolerance: settings.householdTolerance,
                                                 maxIterations: settings.householdMaxIterations)
                    localSteps += stats.iterations + 1
                    return stats.iterations
                case .converged:
                    if case let .from(policy) = start { solver.load(policy) }
                    if case .cold = start { solver.reset() }
                    let stats = try solver.solveValues(problem, policyTolerance: settings.householdTolerance,
                                                       valueTolerance: settings.valueTolerance,
                                                       maxIterations: settings.valueMaxIterations, warmStart: true,
                                                       recordAssetPolicy: false)
                    localSteps += stats.iterations
                    return stats.converged ? stats.iterations : nil
                }
            } catch { return nil }
        }
        /// V^x of every state and the step count, or nil.
        func values(at x: Double, from start: Start) -> (values: [Double], steps: Int)? {
            var pr = old
            pr.resourceScale = x
            guard let steps = solve(pr, from: start) else { return nil }
            return (AnalysedHousehold.exAnteValues(problem: pr, values: solver.values), steps)
        }

        var target: [Double]
        switch given {
        case let .values(v):
            precondition(v.count == nState)
            target = v
        case let .solved(newProblem):
            // Every rank solves it alike (cold start): the same bits everywhere.
            let before = localSteps
            guard solve(newProblem, from: .cold) != nil else {
                throw AnalysisError("equivalent variation: the household problem at the new prices does not converge (\(method.rawValue) method)")
            }
            if comm.rank != 0 { localSteps = before }
            target = AnalysedHousehold.exAnteValues(problem: newProblem, values: solver.values)
        }

        // Resources x(R a₁ + w z) + τ − a₁ must stay positive at the borrowing limit with the lowest income:
        // when R a₁ + w z_min < 0 a larger x scales up the debt service and x has a ceiling.
        // With transfers that depend on the income state, the tightest state decides.
        var ceiling = Double.infinity
        for s in 0..<nS {
            let atLimit = old.rate * old.assets[0] + old.wage * old.income.z[s]
            if atLimit < 0 { ceiling = min(ceiling, (old.transfer(shock: s) - old.assets[0]) / -atLimit) }
        }

        // Stage 1: shared nodes, widened until every state's root is bracketed. Converged method: with few
        // enough doubles, the nodes' solutions come along for warm starts.
        var lo = settings.lower, hi = min(settings.upper, 0.99 * ceiling)
        guard lo < hi else {
            throw AnalysisError("equivalent variation: no feasible bracket of multipliers (the debt service at the borrowing limit caps x at \(ceiling))")
        }
        let shareSolutions = method == .converged
            && 2 * nAll * (settings.nodes + 12 * 8 + settings.denseNodes + 2) <= settings.warmStartLimit
        var nodes: [Node] = []
        /// The warm start of a solve at x (converged method): the cubic (Lagrange) through the solutions of the
        /// two solved nodes on either side of x (fewer at the ends), or the nearest one outside them. The
        /// solutions are smooth in x, so between close nodes the start is within about h⁴ of the solution.
        func nearestNode(_ x: Double) -> Start {
            guard shareSolutions else { return .cold }
            let solved = nodes.filter { $0.solution != nil }
            guard let nearest = solved.min(by: { abs($0.x - x) < abs($1.x - x) }) else { return .cold }
            guard let below = solved.lastIndex(where: { $0.x <= x }), below + 1 < solved.count else {
                return .from(nearest.solution!)
            }
            let window = Array(solved[max(0, below - 1)...min(solved.count - 1, below + 2)])
            let weights = window.indices.map { a in
                window.indices.reduce(1.0) { w, b in b == a ? w : w * (x - window[b].x) / (window[a].x - window[b].x) }
            }
            func blend(_ part: (HouseholdPolicy) -> [Double]) -> [Double] {
                var out = [Double](repeating: 0, count: part(window[0].solution!).count)
                for (w, node) in zip(weights, window) {
                    let u = part(node.solution!)
                    for i in out.indices { out[i] += w * u[i] }
                }
                return out
            }
            let consumption = blend(\.consumption)
            // A cubic may overshoot where the solution bends sharply (the borrowing limit): then linearly.
            guard consumption.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                let (p, q) = (solved[below].solution!, solved[below + 1].solution!)
                let t = (x - solved[below].x) / (solved[below + 1].x - solved[below].x)
                func line(_ u: [Double], _ w: [Double]) -> [Double] { (0..<u.count).map { u[$0] + t * (w[$0] - u[$0]) } }
                return .from(HouseholdPolicy(consumption: line(p.consumption, q.consumption), values: line(p.values, q.values)))
            }
            return .from(HouseholdPolicy(consumption: consumption, values: blend(\.values)))
        }
        func solveNodes(_ xs: [Double], phase: String, warm: Bool = false) throws -> [Node] {
            let p = progress(phase, xs.count, unit: "multipliers")
            return try distributedMap(count: xs.count, communicator: comm) { i in
                defer { p.tick() }
                guard let (v, steps) = values(at: xs[i], from: warm ? nearestNode(xs[i]) : .cold) else {
                    return (Node(x: xs[i], values: [Double](repeating: .nan, count: nState), steps: -1, solution: nil), "")
                }
                return (Node(x: xs[i], values: v, steps: steps, solution: shareSolutions ? solver.policy : nil), "")
            }
        }
        nodes = try solveNodes((0..<settings.nodes).map { lo + (hi - lo) * Double($0) / Double(settings.nodes - 1) },
                               phase: "shared solves")
        if !nodes.contains(where: { $0.steps >= 0 }) {
            throw AnalysisError("equivalent variation: the household problem at the old prices has no solution (\(method.rawValue) method) at any multiplier in [\(lo), \(hi)]")
        }
        for _ in 0..<12 {
            var needHigher = false, needLower = false
            for k in 0..<nState {
                let g = nodes.compactMap { $0.values[k].isFinite ? $0.values[k] - target[k] : nil }
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
            nodes = (nodes + (try solveNodes(added, phase: "widening the bracket"))).sorted { $0.x < $1.x }
        }
        if method == .converged && shareSolutions && settings.denseNodes > 1 {
            // Dense nodes where the roots are: at quantiles of the states' first estimates (the cubics
            // through the nodes so far), each solve from the cubic through its solved neighbours.
            let xs0 = nodes.map(\.x)
            let estimates = (0..<nState).compactMap { k -> Double? in
                let g = nodes.map { $0.values[k] - target[k] }
                guard let (p, q) = nodeBracket(xs0, g, start: settings.start), g[p] != 0 else { return nil }
                return cubicRoot(xs0, g, p, q)
            }.sorted()
            if let first = estimates.first, let last = estimates.last {
                let d = settings.denseNodes
                var dense = (0...d).map { estimates[Int((Double($0) * Double(estimates.count - 1) / Double(d)).rounded())] }
                let pad = max(1e-6, 1e-3 * (last - first))
                dense[0] -= pad; dense[d] += pad
                var kept: [Double] = []
                for x in dense where x > lo && x < hi && (kept.last.map { x - $0 > 1e-7 } ?? true)
                    && !xs0.contains(where: { abs($0 - x) <= 1e-7 }) {
                    kept.append(x)
                }
                nodes = (nodes + (try solveNodes(kept, phase: "dense shared solves", warm: true))).sorted { $0.x < $1.x }
            }
        }
        let xs = nodes.map(\.x)
        /// Converged method, per state: one solve at the root of the cubic through the nodes around its sign
        /// change (from the cubic through their solutions), one just past the Newton step from there (on the
        /// far side of the predicted root, from the first solve's solution), so that usually the two bracket
        /// the root within the tolerance; then the bracketing secant as in the author's stage 3.
        func convergedRoots() throws -> EquivalentVariation {
            let tolerance = settings.multiplierTolerance
            let searching = progress("states", nState, unit: "states")
            let results: [StateRoot] = try distributedMap(count: nState, communicator: comm) { k in
                defer { searching.tick() }
                var points = nodes.map { RootPoint(x: $0.x, g: $0.values[k] - target[k], steps: $0.steps) }
                let g = points.map(\.g)
                let finite = xs.indices.filter { g[$0].isFinite }
                let signChanges = zip(finite, finite.dropFirst()).filter { g[$0] == 0 || (g[$0] < 0) != (g[$1] < 0) }.count
                guard let (p, q) = nodeBracket(xs, g, start: settings.start) else {
                    let best = finite.min { abs(g[$0]) < abs(g[$1]) }
                    return (StateRoot(x: best.map { xs[$0] } ?? 1, residual: best.map { g[$0] } ?? 0, width: .infinity,
                                      converged: false, jump: false, solves: 0, signChanges: signChanges), "")
                }
                if g[p] == 0 {
                    return (StateRoot(x: xs[p], residual: 0, width: 0, converged: true, jump: false, solves: 0,
                                      signChanges: signChanges), "")
                }
                var started = false
                func evaluate(_ x: Double) -> RootPoint? {
                    let start: Start = started ? .previous : nearestNode(x)
                    started = true
                    return values(at: x, from: start).map { RootPoint(x: x, g: $0.values[k] - target[k], steps: $0.steps) }
                }
                let (left, right) = (xs[finite.last { $0 < p } ?? p], xs[finite.first { $0 > q } ?? q])
                let x1 = cubicRoot(xs, g, p, q)
                var solves = 1
                if let first = evaluate(x1) {
                    points.append(first)
                    let slope = cubicSlope(xs, g, p, q, at: x1)
                    if first.g != 0 && slope.isFinite && slope != 0 {
                        let newton = x1 - first.g / slope
                        let probe = newton + (newton >= x1 ? 0.45 : -0.45) * tolerance
                        if probe > left && probe < right {
                            solves += 1
                            if let second = evaluate(probe) { points.append(second) }
                        }
                    }
                }
                points = points.filter { $0.x >= left && $0.x <= right }
                let root = bracketRoot(points, near: x1, tolerance: tolerance, maxEvaluations: settings.maxEvaluations,
                                       evaluate: evaluate)
                return (StateRoot(x: root.x, residual: root.residual, width: root.width, converged: root.converged,
                                  jump: false, solves: solves + root.solves, signChanges: signChanges), "")
            }
            let steps = try comm.allReduce([Int64(localSteps)], sum: true)[0]
            return EquivalentVariation(method: method, multipliers: results.map(\.x), converged: results.map(\.converged),
                                       residuals: results.map(\.residual), bracketWidths: results.map(\.width),
                                       jumps: results.map(\.jump), solves: results.map(\.solves), nodes: xs,
                                       householdSteps: Int(steps), multipleRoots: results.map { $0.signChanges > 1 },
                                       target: target)
        }

        if method == .converged {
            return try convergedRoots()
        }

        // Stage 2 (author): one solve per state at the root of its local cubic. With few enough states every state's
        // value at every such multiplier is shared (gathered), so that each state's next step has other
        // states' points near its root.
        let share = nState <= settings.shareLimit
        let starting = progress("first solves", nState, unit: "states")
        let first: [FirstSolve] = try distributedMap(count: nState, communicator: comm) { k in
            defer { starting.tick() }
            let g = nodes.map { $0.values[k] - target[k] }
            guard let (p, q) = nodeBracket(xs, g, start: settings.start), g[p] != 0 else {
                return (FirstSolve(x: .nan, steps: -1, values: []), "")
            }
            let x = cubicRoot(xs, g, p, q)
            guard let (v, steps) = values(at: x, from: nearestNode(x)) else {
                return (FirstSolve(x: x, steps: -1, values: [Double](repeating: .nan, count: share ? nState : 1)), "")
            }
            return (FirstSolve(x: x, steps: steps, values: share ? v : [v[k]]), "")
        }

        // Stage 3: per state, the bracketing secant from the tightest sign change among its points.
        let polishing = progress("polishing", nState, unit: "states")
        let results: [StateRoot] = try distributedMap(count: nState, communicator: comm) { k in
            defer { polishing.tick() }
            var points = nodes.map { RootPoint(x: $0.x, g: $0.values[k] - target[k], steps: $0.steps) }
            let g = points.map(\.g)
            let finite = xs.indices.filter { g[$0].isFinite }
            let signChanges = zip(finite, finite.dropFirst()).filter { g[$0] == 0 || (g[$0] < 0) != (g[$1] < 0) }.count
            guard let (p, q) = nodeBracket(xs, g, start: settings.start) else {
                // Not bracketed within the feasible multipliers: report the node closest to a root.
                let best = finite.min { abs(g[$0]) < abs(g[$1]) }
                return (StateRoot(x: best.map { xs[$0] } ?? 1, residual: best.map { g[$0] } ?? 0, width: .infinity,
                                  converged: false, jump: false, solves: 0, signChanges: signChanges), "")
            }
            if g[p] == 0 {
                return (StateRoot(x: xs[p], residual: 0, width: 0, converged: true, jump: false, solves: 0,
                                  signChanges: signChanges), "")
            }
            let own = first[k]
            points.append(RootPoint(x: own.x, g: (share ? own.values[k] : own.values[0]) - target[k], steps: own.steps))
            if share {
                for j in 0..<nState where j != k {
                    let x = first[j].x
                    if x > xs[p] && x < xs[q] && first[j].values[k].isFinite {
                        points.append(RootPoint(x: x, g: first[j].values[k] - target[k], steps: first[j].steps))
                    }
                }
            }
            // Only the points inside the nodes' bracket: the root searched is the one it holds.
            let (left, right) = (xs[finite.last { $0 < p } ?? p], xs[finite.first { $0 > q } ?? q])
            points = points.filter { $0.x >= left && $0.x <= right }
            var started = false
            let root = bracketRoot(points, near: own.x, tolerance: settings.multiplierTolerance,
                                   maxEvaluations: settings.maxEvaluations) { x in
                let start: Start = started ? .previous : nearestNode(x)
                started = true
                return values(at: x, from: start).map { RootPoint(x: x, g: $0.values[k] - target[k], steps: $0.steps) }
            }
            return (StateRoot(x: root.x, residual: root.residual, width: root.width, converged: root.converged,
                              jump: method == .author && root.jump, solves: root.solves + 1, signChanges: signChanges), "")
        }
        let steps = try comm.allReduce([Int64(localSteps)], sum: true)[0]
        return EquivalentVariation(method: method, multipliers: results.map(\.x), converged: results.map(\.converged),
                                   residuals: results.map(\.residual), bracketWidths: results.map(\.width),
                                   jumps: results.map(\.jump), solves: results.map(\.solves), nodes: xs,
                                   householdSteps: Int(steps), multipleRoots: results.map { $0.signChanges > 1 },
                                   target: target)
    }

    /// Where a solve starts (converged method; the author's always start cold).
    enum Start {
        case cold
        case from(HouseholdPolicy)
        /// From the solver's last solution.
        case previous
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

    /// The cubic through up to four finite nodes around the bracket [x_p, x_q] (Lagrange form).
    static func localCubic(_ xs: [Double], _ g: [Double], _ p: Int) -> (Double) -> Double {
        let finite = xs.indices.filter { g[$0].isFinite }
        let position = finite.firstIndex(of: p)!
        let window = Array(finite[max(0, position - 1)...min(finite.count - 1, position + 2)])
        return { x in
            var total = 0.0
            for a in window {
                var basis = 1.0
                for b in window where b != a { basis *= (x - xs[b]) / (xs[a] - xs[b]) }
                total += basis * g[a]
            }
            return total
        }
    }

    /// The slope at x of the cubic of `localCubic` (a central difference: exact up to rounding for a cubic).
    static func cubicSlope(_ xs: [Double], _ g: [Double], _ p: Int, _ q: Int, at x: Double) -> Double {
        let cubic = localCubic(xs, g, p), e = 1e-3 * (xs[q] - xs[p])
        return (cubic(x + e) - cubic(x - e)) / (2 * e)
    }

    /// The root in [x_p, x_q] of the cubic through up to four finite nodes around the bracket (bisection).
    static func cubicRoot(_ xs: [Double], _ g: [Double], _ p: Int, _ q: Int) -> Double {
        let cubic = localCubic(xs, g, p)
        var l = xs[p], r = xs[q], gl = g[p]
        for _ in 0..<200 where r - l > 1e-15 * r {
            let mid = 0.5 * (l + r), gm = cubic(mid)
            if (gm < 0) == (gl < 0) { l = mid; gl = gm } else { r = mid }
        }
        return 0.5 * (l + r)
    }

    /// A root of g from known points: the sign change next to `near`, then solves until two points of
    /// opposite sign are at most `tolerance` apart. The first solve is at the inverse cubic through the
    /// bracket and its neighbours (when g is monotone there), later ones at the Illinois variant of regula
    /// falsi, bisecting when three solves have not halved the bracket. Each solve keeps 0.45 `tolerance`
    /// from the bracket's ends, so that a solve next to the root lands on its far side and closes the bracket.
    /// An infeasible x (nil) is taken to lie beyond the root on the high side (infeasibility comes from the
    /// debt-service ceiling on x).
    public static func bracketRoot(_ known: [RootPoint], near: Double, tolerance: Double, maxEvaluations: Int,
                            evaluate: (Double) -> RootPoint?) -> BracketedRoot {
        let points = known.filter { $0.g.isFinite && $0.x.isFinite }.sorted { $0.x < $1.x }
        guard let closest = points.min(by: { abs($0.g) < abs($1.g) }) else {
            return BracketedRoot(x: near, residual: .nan, width: .infinity, converged: false, jump: false, solves: 0)
        }
        if closest.g == 0 { return BracketedRoot(x: closest.x, residual: 0, width: 0, converged: true, jump: false, solves: 0) }
        var at: Int?
        var distance = Double.infinity
        for i in 0..<(points.count - 1) where (points[i].g < 0) != (points[i + 1].g < 0) {
            let (u, v) = (points[i].x, points[i + 1].x)
            let d = near < u ? u - near : (near > v ? near - v : 0)
            if d < distance { distance = d; at = i }
        }
        guard let at else {
            return BracketedRoot(x: closest.x, residual: closest.g, width: .infinity, converged: false, jump: false, solves: 0)
        }
        var a = points[at], b = points[at + 1]
        var wa = a.g, wb = b.g
        var feasibleHigh = true
        // First step: inverse cubic interpolation (x as a polynomial in g at g = 0) when g is monotone there.
        var inverse: Double?
        let window = Array(points[max(0, at - 1)...min(points.count - 1, at + 2)])
        let increasing = zip(window, window.dropFirst()).allSatisfy { $0.g < $1.g }
        let decreasing = zip(window, window.dropFirst()).allSatisfy { $0.g > $1.g }
        if window.count >= 3 && (increasing || decreasing) {
            var x = 0.0
            for (i, p) in window.enumerated() {
                var basis = 1.0
                for (j, q) in window.enumerated() where j != i { basis *= (0 - q.g) / (p.g - q.g) }
                x += basis * p.x
            }
            if x > a.x && x < b.x { inverse = x }
        }
        var solves = 0, side = 0, sinceCheck = 0
        var widthAtCheck = b.x - a.x, bisect = false
        while b.x - a.x > tolerance && solves < maxEvaluations {
            let width = b.x - a.x
            var x: Double
            if width <= 2 * tolerance || bisect {
                x = 0.5 * (a.x + b.x)
            } else {
                x = (solves == 0 ? inverse : nil) ?? (a.x * wb - b.x * wa) / (wb - wa)
                if !(x > a.x && x < b.x) { x = 0.5 * (a.x + b.x) }
                let margin = 0.45 * tolerance
                x = min(max(x, a.x + margin), b.x - margin)
            }
            solves += 1
            if let p = evaluate(x), p.g.isFinite {
                if p.g == 0 { a = p; b = p; feasibleHigh = true; break }
                if (p.g < 0) == (a.g < 0) {
                    a = p; wa = p.g
                    if side == -1 { wb *= 0.5 }   // Illinois: halve the stale end's weight
                    side = -1
                } else {
                    b = p; wb = p.g; feasibleHigh = true
                    if side == 1 { wa *= 0.5 }
                    side = 1
                }
            } else {
                b = RootPoint(x: x, g: b.g, steps: b.steps)
                feasibleHigh = false
                side = 1
            }
            sinceCheck += 1
            bisect = false
            if sinceCheck == 3 {
                bisect = b.x - a.x > 0.5 * widthAtCheck
                widthAtCheck = b.x - a.x
                sinceCheck = 0
            }
        }
        let end = (!feasibleHigh || abs(a.g) <= abs(b.g)) ? a : b
        return BracketedRoot(x: end.x, residual: end.g, width: b.x - a.x, converged: b.x - a.x <= tolerance && feasibleHigh,
                             jump: a.steps != b.steps, solves: solves)
    }
}

/// A point of one state's V^x − ΔV: the multiplier, the difference and the solve's step count.
public struct RootPoint: Sendable {
    public var x: Double, g: Double, steps: Int
    public init(x: Double, g: Double, steps: Int) { self.x = x; self.g = g; self.steps = steps }
}

/// One state's bracketed root (`EquivalentVariation.bracketRoot`).
public struct BracketedRoot: Sendable {
    public var x: Double, residual: Double, width: Double
    public var converged: Bool, jump: Bool
    public var solves: Int
}

/// A shared solve of the first stage: its multiplier, V^x of every state (NaN where infeasible), the step
/// count (−1 where infeasible) and, when shared for warm starts, the solution.
struct Node: Packable {
    var x: Double, values: [Double], steps: Int
    var solution: HouseholdPolicy?
    init(x: Double, values: [Double], steps: Int, solution: HouseholdPolicy?) {
        self.x = x; self.values = values; self.steps = steps; self.solution = solution
    }
    func pack(into m: inout MessageWriter) {
        m.write(x); m.write(values); m.write(steps)
        m.write(solution?.consumption ?? []); m.write(solution?.values ?? [])
    }
    init(unpacking m: inout MessageReader) throws {
        x = try m.read(); values = try m.read(); steps = try m.read()
        let c: [Double] = try m.read(), v: [Double] = try m.read()
        solution = c.isEmpty ? nil : HouseholdPolicy(consumption: c, values: v)
    }
}

/// A state's first solve in stage 2: its multiplier, step count and V there (every state's, or only its own).
struct FirstSolve: Packable {
    var x: Double
    var steps: Int
    var values: [Double]
    init(x: Double, steps: Int, values: [Double]) { self.x = x; self.steps = steps; self.values = values }
    func pack(into m: inout MessageWriter) { m.write(x); m.write(steps); m.write(values) }
    init(unpacking m: inout MessageReader) throws { x = try m.read(); steps = try m.read(); values = try m.read() }
}

/// One state's root, as gathered from its rank.
struct StateRoot: Packable {
    var x: Double, residual: Double, width: Double
    var converged: Bool, jump: Bool
    var solves: Int
    /// Sign changes of V^x − ΔV between the nodes (more than one: the root is not unique).
    var signChanges: Int
    init(x: Double, residual: Double, width: Double, converged: Bool, jump: Bool, solves: Int, signChanges: Int) {
        self.x = x; self.residual = residual; self.width = width; self.converged = converged; self.jump = jump
        self.solves = solves; self.signChanges = signChanges
    }
    func pack(into m: inout MessageWriter) {
        m.write(x); m.write(residual); m.write(width); m.write(converged); m.write(jump); m.write(solves); m.write(signChanges)
    }
    init(unpacking m: inout MessageReader) throws {
        x = try m.read(); residual = try m.read(); width = try m.read(); converged = try m.read(); jump = try m.read()
        solves = try m.read(); signChanges = try m.read()
    }
}
