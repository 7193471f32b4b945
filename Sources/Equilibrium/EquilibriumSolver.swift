import Foundation
import HATModel
import Parallel
import Solvers

/// Settings of an equilibrium solve.
public struct EquilibriumOptions: Sendable {
    /// The closure and the parameter it holds fixed (β, or R in fixed-rate).
    public var closure: MarketClosure
    /// The first guess of the unknowns.
    public var start: EquilibriumStart
    /// Converged when the max-abs market residual is at most this.
    public var tolerance: Double
    /// Iterations of each hybrid run (a fallback strategy starts its own count).
    public var maxIterations: Int
    /// Relative forward-difference step of the Jacobian (see `HybridRootFinder.jacobianStep`).
    public var jacobianStep: Double = Double.ulpOfOne.squareRoot()
    /// Household/distribution tolerances inside the residual evaluations.
    public var evaluation: EvaluationOptions
    /// Household tolerance of the final evaluation whose objects are reported (HAT-SPEC §2.2: 1e-10).
    public var reportingHouseholdTolerance: Double
    /// End the solve with `.interrupted` at the next iteration once every rank agreed on a stop signal
    /// (`StopSignal`); the caller checkpoints and exits 75.
    public var stopOnSignal = false
    /// Called on the root after every iteration of every strategy with the best point so far (unknowns,
    /// residuals), the iteration and the strategy: `hat solve --checkpoint-dir` writes a checkpoint here.
    public var onIteration: (@Sendable (_ unknowns: [Double], _ residuals: [Double], _ iteration: Int, _ strategy: String) -> Void)?
    /// Called on the root after every residual evaluation of every strategy with the count so far: progress
    /// inside an iteration (its finite-difference Jacobian is one evaluation per unknown).
    public var onEvaluation: (@Sendable (_ evaluations: Int) -> Void)?
    /// A Jacobian of the residuals near the start (row-major, unknowns × unknowns), e.g. the `jacobian` of a
    /// solve at a nearby point: the first hybrid run uses it instead of its first finite-difference Jacobian,
    /// saving one evaluation per unknown. Later fresh Jacobians are finite differences as usual.
    public var startingJacobian: [Double]?

    public init(closure: MarketClosure, start: EquilibriumStart, tolerance: Double,
                maxIterations: Int, evaluation: EvaluationOptions, reportingHouseholdTolerance: Double) {
        self.closure = closure; self.start = start; self.tolerance = tolerance
        self.maxIterations = maxIterations; self.evaluation = evaluation
        self.reportingHouseholdTolerance = reportingHouseholdTolerance
    }
}

/// The result of an equilibrium solve, identical on every rank.
public struct EquilibriumResult: Sendable {
    public var unknowns: [Double]
    public var unknownNames: [String]
    /// Residuals at `unknowns` in the solver's evaluation (household tolerance of the solve).
    public var residuals: [Double]
    public var residualNames: [String]
    public var reason: ConvergenceReason
    /// What the reason means here: the numbers behind it and, when it is not converged, what to change.
    public var reasonDetail: String
    /// The strategy that produced the result (see `solveEquilibrium`).
    public var strategy: String
    public var iterations: Int
    public var evaluations: Int
    /// Measured noise of the residual near the solution, when a stall made the solver measure it.
    public var residualNoise: Double?
    public var prices: Prices
    /// The world re-evaluated at the solution with the reporting tolerance.
    public var report: WorldOutcome
    /// Residuals of the reporting evaluation.
    public var reportResiduals: [Double]
    /// The hybrid method's last Jacobian (finite differences with Broyden updates) near the solution, for
    /// `EquilibriumOptions.startingJacobian` of a nearby solve; nil when no hybrid run had one.
    public var jacobian: [Double]? = nil
    public var converged: Bool { reason.converged }
    /// max-abs residual; NaN if any residual is NaN.
    public var residualMax: Double { normInf(residuals) }
}

/// Solves for a world equilibrium. Collective over the evaluator's communicator: the root rank runs the
/// root finder and broadcasts each trial point; the other ranks serve evaluations until told to stop.
/// Decisions are taken only on the root, so ranks cannot disagree even on heterogeneous nodes.
///
/// Strategies, in order, each tried only when the one before stalled (the log says which runs and why):
/// 1. the hybrid (Powell dogleg) method on all unknowns;
/// 2. the bond unknowns (R, β or each R_i) re-bracketed at the best wages so far, then the hybrid again:
///    bond demand rises with them, so bracketing works where the residual is flat (every household at the
///    borrowing limit) and a Newton-type method has no slope to follow;
/// 3. the hybrid on the wages alone, with the bond markets cleared inside every evaluation by bracketing,
///    then a final hybrid polish on all unknowns.
/// A stall at the residual's noise floor (inexact inner solves) ends the solve at once with that reason.
public func solveEquilibrium(evaluator: WorldEvaluator, options: EquilibriumOptions,
                             log: Logger = .silent) throws -> EquilibriumResult {
    let world = evaluator.world, m = world.count
    let closure = options.closure
    func prices(_ x: [Double]) -> Prices { closure.prices(from: x, countries: m) }

    // The root runs the strategies; every trial point is evaluated collectively.
    let driver = CollectiveDriver<TrialPoint>(communicator: evaluator.communicator)
    let record: StrategyDriver.Outcome = try driver.run(serve: { point in
        try evaluator.evaluate(prices: prices(point.unknowns), options: options.evaluation)
    }) { evaluate in
        let start = Date()
        let strategies = StrategyDriver(closure: closure.kind, countries: m, options: options, log: log, start: start) { x in
            let out = try evaluate(TrialPoint(unknowns: x))
            if out.failed { log("trial point infeasible: " + out.failureSummary(names: world.names)) }
            return closure.residuals(out, world: world)
        }
        var r = try strategies.run(from: closure.unknowns(at: options.start, countries: m))
        r.iterations = strategies.iterations
        r.evaluations = strategies.evaluations
        log("stopped: \(r.reason.message)\(r.detail.isEmpty ? "" : " (\(r.detail))") after \(r.iterations) iterations, \(r.evaluations) evaluations, strategy \(r.strategy)")
        return r
    }
    return try reportEquilibrium(evaluator: evaluator, options: options, unknowns: record.x, residuals: record.residual,
                                 reason: record.reason, detail: record.detail, strategy: record.strategy,
                                 iterations: record.iterations, evaluations: record.evaluations, noise: record.noise,
                                 jacobian: record.jacobian.isEmpty ? nil : record.jacobian)
}

/// The result at given unknowns: the world re-evaluated there with the reporting tolerance (collective),
/// from a cold start, so that the reported objects are a function of the unknowns alone, not of the
/// solver's path. `solveEquilibrium` ends with it; a calibration resumed at a finished checkpoint rebuilds
/// its result with it (the same bits as when it was first reported). Without solver residuals, the
/// reporting evaluation's residuals stand in for them.
public func reportEquilibrium(evaluator: WorldEvaluator, options: EquilibriumOptions, unknowns x: [Double],
                              residuals: [Double]? = nil, reason: ConvergenceReason, detail: String = "",
                              strategy: String, iterations: Int = 0, evaluations: Int = 0,
                              noise: Double? = nil, jacobian: [Double]? = nil) throws -> EquilibriumResult {
    let world = evaluator.world, closure = options.closure
    let prices = closure.prices(from: x, countries: world.count)
    var reporting = options.evaluation
    reporting.householdTolerance = options.reportingHouseholdTolerance
    reporting.warmStart = false
    let report = try evaluator.evaluate(prices: prices, options: reporting)
    let reportResiduals = closure.residuals(report, world: world)
    return EquilibriumResult(unknowns: x, unknownNames: closure.unknownNames(countries: world.names),
                             residuals: residuals ?? reportResiduals, residualNames: closure.residualNames(countries: world.names),
                             reason: reason, reasonDetail: detail, strategy: strategy,
                             iterations: iterations, evaluations: evaluations,
                             residualNoise: noise, prices: report.prices, report: report, reportResiduals: reportResiduals,
                             jacobian: jacobian)
}

/// The command of the equilibrium's collective loop: evaluate the world at these unknowns.
struct TrialPoint: Packable {
    var unknowns: [Double]
    func pack(into m: inout MessageWriter) { m.write(unknowns) }
    init(unknowns: [Double]) { self.unknowns = unknowns }
    init(unpacking m: inout MessageReader) throws { unknowns = try m.read() }
}

/// Runs the strategies of `solveEquilibrium` on the root rank over a residual function x ↦ F(x).
final class StrategyDriver {
    /// How the strategies ended; sent from the root to every rank.
    struct Outcome: Packable {
        var x: [Double]
        var residual: [Double]
        var reason: ConvergenceReason
        var detail: String
        var strategy: String
        var noise: Double?
        /// Totals over all strategies, filled in by `run`.
        var iterations = 0, evaluations = 0
        /// The last hybrid run's Jacobian (Broyden-updated), empty if it had none.
        var jacobian: [Double] = []

        init(x: [Double], residual: [Double], reason: ConvergenceReason, detail: String, strategy: String, noise: Double?) {
            self.x = x; self.residual = residual; self.reason = reason; self.detail = detail; self.strategy = strategy
            self.noise = noise
        }

        func pack(into m: inout MessageWriter) {
            m.write(x); m.write(residual); m.write(reason.rawValue); m.write(detail); m.write(strategy)
            m.write(noise); m.write(iterations); m.write(evaluations); m.write(jacobian)
        }

        init(unpacking m: inout MessageReader) throws {
            x = try m.read(); residual = try m.read()
            let raw: Int32 = try m.read()
            guard let reason = ConvergenceReason(rawValue: raw) else { throw MessageError.invalid("convergence reason \(raw)") }
            self.reason = reason
            detail = try m.read(); strategy = try m.read(); noise = try m.read()
            iterations = try m.read(); evaluations = try m.read(); jacobian = try m.read()
        }
    }

    let closure: Closure
    let countries: Int
    let options: EquilibriumOptions
    let log: Logger
    let start: Date
    let residual: ([Double]) throws -> [Double]
    var iterations = 0
    var evaluations = 0
    /// The finite point with the smallest ‖F‖₂ seen so far.
    var best: (x: [Double], f: [Double])?

    init(closure: Closure, countries: Int, options: EquilibriumOptions, log: Logger, start: Date,
         residual: @escaping ([Double]) throws -> [Double]) {
        self.closure = closure; self.countries = countries; self.options = options; self.log = log
        self.start = start; self.residual = residual
    }

    /// F(x), counting evaluations and remembering the best finite point.
    func evaluate(_ x: [Double]) throws -> [Double] {
        evaluations += 1
        let f = try residual(x)
        options.onEvaluation?(evaluations)
        if f.allSatisfy({ $0.isFinite }), best == nil || norm2(f) < norm2(best!.f) { best = (x, f) }
        return f
    }

    func finder(tolerance: Double) -> HybridRootFinder {
        var finder = HybridRootFinder(tolerance: tolerance, maxIterations: options.maxIterations)
        finder.jacobianStep = options.jacobianStep
        return finder
    }

    func monitor(_ label: String) -> (IterationRecord) -> MonitorAction {
        { [log, start, options, self] rec in
            if let hook = options.onIteration, let best = self.best { hook(best.x, best.f, rec.iteration, label) }
            if options.stopOnSignal && StopSignal.agreed { return .stop }
            let elapsed = Date().timeIntervalSince(start)
            if let note = rec.note { log("\(label): \(note)"); return .proceed }
            log(String(format: "iter %3d  residual %.3e  l2 %.3e  step %.3e  %@  evals %3d  elapsed %.2f s  [%@]",
                       rec.iteration, rec.residualMax, rec.residualNorm, rec.stepNorm,
                       rec.accepted ? "accepted" : "rejected", rec.evaluations, elapsed, label))
            return .proceed
        }
    }

    /// Hybrid on all unknowns from x; `given` replaces its first finite-difference Jacobian. The outcome
    /// keeps the last finite-difference Jacobian (the same columns the finder would compute itself).
    func hybrid(from x: [Double], label: String, given: [Double]? = nil) throws -> Outcome {
        let finder = finder(tolerance: options.tolerance)
        var pending = given.flatMap { $0.count == x.count * x.count ? $0 : nil }
        var lastFresh: [Double] = []
        let columns: JacobianFunction = { [self] at, f in
            if let supplied = pending { pending = nil; return (supplied, 0) }
            var jac = [Double](repeating: 0, count: at.count * at.count), used = 0
            for j in at.indices {
                let (column, n) = try finder.differenceColumn(j, at: at, residual: f) { try self.evaluate($0) }
                used += n
                for i in at.indices { jac[i * at.count + j] = column[i] }
            }
            lastFresh = jac
            // As for the finder's own columns: it adds these evaluations to its count, `evaluate` to ours.
            return (jac, used)
        }
        let r = try finder.solve(from: x, jacobian: columns, monitor: monitor(label)) { try self.evaluate($0) }
        iterations += r.iterations
        var out = Outcome(x: r.x, residual: r.residual, reason: r.reason, detail: detail(r), strategy: label, noise: r.noise)
        out.jacobian = lastFresh.isEmpty ? (r.state?.jacobian ?? []) : lastFresh
        return out
    }

    func detail(_ r: RootFindingResult) -> String {
        switch r.reason {
        case .noiseFloor:
            // The residual got to r and no further: r, not the noise estimate (which may be measured at a
            // coarser spacing), is what the tolerance can ask for.
            let reachable = 2 * max(r.residualMax, options.tolerance)
            return String(format: "max-abs residual %.3e against tolerance %.1e; the residual's measured noise is %.2e (inner solves at household_tolerance %.1e, distribution_tolerance %.1e), so the tolerance asks for digits the residual does not have: set equilibrium.tolerance to at least %.0e, or tighten equilibrium.household_tolerance (which moves the root by about the inner solves' error)",
                          r.residualMax, options.tolerance, r.noise ?? 0, options.evaluation.householdTolerance,
                          options.evaluation.distributionTolerance, reachable)
        case .maxIterations:
            return "raise equilibrium.max_iterations (now \(options.maxIterations)) or start closer"
        default:
            return ""
        }
    }

    /// Bracket the bond unknowns at the wages of x (held fixed). Returns the new x and whether every bond
    /// market was cleared to the tolerance.
    func bracketBonds(at x: [Double], tolerance: Double, initialStep: Double) throws
        -> (x: [Double], f: [Double], converged: Bool)
    {
        let block = closure.bondBlock(countries: countries)
        let bounds = closure.bondUnknownBounds
        let brackets = MonotoneBrackets(tolerance: tolerance, maxEvaluations: 200, initialStep: initialStep)
        let r = try brackets.solve(from: block.map { x[$0.unknown] },
                                   lower: block.map { _ in bounds.lower }, upper: block.map { _ in bounds.upper },
                                   evaluate: { t in
                                       var y = x
                                       for (k, b) in block.enumerated() { y[b.unknown] = t[k] }
                                       return try self.evaluate(y)
                                   },
                                   extract: { f in block.map { f[$0.residual] } })
        var y = x
        for (k, b) in block.enumerated() { y[b.unknown] = r.t[k] }
        return (y, r.lastOutput, r.converged)
    }

    /// Strategy 3: the hybrid on the wages, with the bond markets cleared by bracketing inside.
    func reducedSpace(from x: [Double], label: String) throws -> Outcome {
        let block = closure.bondBlock(countries: countries)
        let bondUnknowns = Set(block.map(\.unknown)), bondResiduals = Set(block.map(\.residual))
        let wageIndex = x.indices.filter { !bondUnknowns.contains($0) }
        let goodsIndex = x.indices.filter { !bondResiduals.contains($0) }
        var current = x
        var lastFull: [Double] = []
        let inner = 0.1 * options.tolerance
        let r = try finder(tolerance: options.tolerance).solve(from: wageIndex.map { x[$0] }, monitor: monitor(label)) { w in
            var y = current
            for (k, i) in wageIndex.enumerated() { y[i] = w[k] }
            let b = try self.bracketBonds(at: y, tolerance: inner, initialStep: 1e-3)
            guard b.converged else { return goodsIndex.map { _ in .nan } }
            current = b.x
            lastFull = b.f
            return goodsIndex.map { b.f[$0] }
        }
        iterations += r.iterations
        var y = current
        for (k, i) in wageIndex.enumerated() { y[i] = r.x[k] }
        let f = lastFull.isEmpty ? try evaluate(y) : (y == current ? lastFull : try evaluate(y))
        return Outcome(x: y, residual: f, reason: normInf(f) <= options.tolerance ? .residualTolerance : r.reason,
                       detail: detail(r), strategy: label, noise: r.noise)
    }

    /// Whether a stop is worth a fallback: a stall or the evaluation budget, not the user's iteration cap,
    /// a success, or a noise floor (no strategy resolves digits the residual does not have).
    func worthFallback(_ r: Outcome) -> Bool {
        r.reason == .notMakingProgress || r.reason == .maxEvaluations || r.reason == .nonFiniteInitialResidual
    }

    func run(from x0: [Double]) throws -> Outcome {
        let bondName = closure.bondUnknownName
        log("strategy 1/3: hybrid (Powell dogleg, scaled variables, forward-difference Jacobian) on all \(x0.count) unknowns")
        var r = try hybrid(from: x0, label: "hybrid", given: options.startingJacobian)
        guard worthFallback(r), let from = best else { return bestOf(r) }

        log(String(format: "strategy 1 stopped (%@) at max-abs residual %.3e; switching to strategy 2/3: bracket %@ (bond demand rises with it) at the best wages so far, then hybrid",
                   r.reason.message, normInf(r.residual), bondName))
        let b = try bracketBonds(at: from.x, tolerance: 0.1 * options.tolerance, initialStep: 0.02)
        log(String(format: "strategy 2: bond market(s) %@ after bracketing: max-abs residual %.3e",
                   b.converged ? "cleared" : "not cleared", normInf(b.f)))
        r = try hybrid(from: b.x, label: "bracket+hybrid")
        guard worthFallback(r), let from2 = best else { return bestOf(r) }

        log(String(format: "strategy 2 stopped (%@) at max-abs residual %.3e; switching to strategy 3/3: hybrid on the wages with %@ bracketed inside every evaluation",
                   r.reason.message, normInf(r.residual), bondName))
        r = try reducedSpace(from: from2.x, label: "wages|bracketed-bonds")
        if r.reason.converged || r.reason == .noiseFloor || r.reason == .interrupted { return r }
        log(String(format: "strategy 3 stopped at max-abs residual %.3e; polishing with the hybrid on all unknowns",
                   normInf(r.residual)))
        return bestOf(try hybrid(from: best?.x ?? r.x, label: "polish"))
    }

    /// A failed solve reports the best point any strategy found, not the last one tried.
    func bestOf(_ r: Outcome) -> Outcome {
        guard !r.reason.converged, let best, !r.residual.allSatisfy({ $0.isFinite }) || norm2(best.f) < norm2(r.residual) else { return r }
        var out = r
        out.x = best.x
        out.residual = best.f
        return out
    }
}
