import Foundation
import Parallel
import Solvers

/// Settings of an equilibrium solve.
public struct EquilibriumOptions: Sendable {
    public var closure: Closure
    /// R in the fixed-rate closure; the initial guess of R otherwise.
    public var rate: Double
    /// Initial wages (any positive scale); nil = all equal.
    public var initialWages: [Double]?
    /// Converged when the max-abs market residual is at most this.
    public var tolerance: Double
    public var maxIterations: Int
    /// Relative forward-difference step of the Jacobian (see `HybridRootFinder.jacobianStep`).
    public var jacobianStep: Double = Double.ulpOfOne.squareRoot()
    /// Household/distribution tolerances inside the residual evaluations.
    public var evaluation: EvaluationOptions
    /// Household tolerance of the final evaluation whose objects are reported (HAT-SPEC §2.2: 1e-10).
    public var reportingHouseholdTolerance: Double

    public init(closure: Closure, rate: Double, initialWages: [Double]? = nil, tolerance: Double,
                maxIterations: Int, evaluation: EvaluationOptions, reportingHouseholdTolerance: Double) {
        self.closure = closure; self.rate = rate; self.initialWages = initialWages; self.tolerance = tolerance
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
    public var iterations: Int
    public var evaluations: Int
    public var prices: Prices
    /// The world re-evaluated at the solution with the reporting tolerance.
    public var report: WorldOutcome
    /// Residuals of the reporting evaluation.
    public var reportResiduals: [Double]
    public var converged: Bool { reason.converged }
    public var residualMax: Double { residuals.map { abs($0) }.max() ?? 0 }
}

/// Solves for a world equilibrium. Collective over the evaluator's communicator: the root rank runs the
/// root finder and broadcasts each trial point; the other ranks serve evaluations until told to stop.
/// Decisions are taken only on the root, so ranks cannot disagree even on heterogeneous nodes.
public func solveEquilibrium(evaluator: WorldEvaluator, options: EquilibriumOptions,
                             log: @escaping (String) -> Void = { _ in }) throws -> EquilibriumResult {
    let comm = evaluator.communicator
    let world = evaluator.world, m = world.count
    let closure = options.closure
    let beta = evaluator.model.beta
    func prices(_ x: [Double]) -> Prices {
        closure.prices(from: x, countries: m, fixedRate: options.rate, beta: beta)
    }
    let n = closure.unknownCount(countries: m)
    let start = Date()

    // Command protocol: [1, n] + x = evaluate x; [0, n] + x = done, x is the final point and the
    // remaining fields carry the solver's outcome.
    var outcome: [Double]
    if comm.isRoot {
        let x0 = closure.unknowns(wages: options.initialWages ?? [Double](repeating: 1, count: m),
                                  rates: [Double](repeating: options.rate, count: m), beta: beta)
        var finder = HybridRootFinder(tolerance: options.tolerance, maxIterations: options.maxIterations)
        finder.jacobianStep = options.jacobianStep
        let result = try finder.solve(from: x0, monitor: { rec in
            let elapsed = Date().timeIntervalSince(start)
            log(String(format: "iter %3d  residual %.3e  step %.3e  %@  evals %3d  elapsed %.2f s",
                       rec.iteration, rec.residualMax, rec.stepNorm, rec.accepted ? "accepted" : "rejected",
                       rec.evaluations, elapsed))
        }) { x in
            var header: [Double] = [1, Double(n)]
            try comm.broadcast(&header)
            var xb = x
            try comm.broadcast(&xb)
            let out = try evaluator.evaluate(prices: prices(x), options: options.evaluation)
            return out.failed ? [Double](repeating: .nan, count: n) : closure.residuals(out, world: world)
        }
        log("stopped: \(result.reason.rawValue) after \(result.iterations) iterations, \(result.evaluations) evaluations")
        outcome = [0, Double(n)] + result.x + result.residual
            + [Double(ConvergenceReason.allCasesIndex(result.reason)), Double(result.iterations), Double(result.evaluations)]
        var header = Array(outcome[0..<2])
        try comm.broadcast(&header)
        var rest = Array(outcome[2...])
        try comm.broadcast(&rest)
    } else {
        while true {
            var header: [Double] = [0, 0]
            try comm.broadcast(&header)
            if header[0] == 1 {
                var x = [Double](repeating: 0, count: n)
                try comm.broadcast(&x)
                _ = try evaluator.evaluate(prices: prices(x), options: options.evaluation)
            } else {
                var rest = [Double](repeating: 0, count: 2 * n + 3)
                try comm.broadcast(&rest)
                outcome = header + rest
                break
            }
        }
    }
    let x = Array(outcome[2..<(2 + n)])
    let residuals = Array(outcome[(2 + n)..<(2 + 2 * n)])
    let reason = ConvergenceReason.fromIndex(Int(outcome[2 + 2 * n]))
    // Re-evaluate at the solution with the reporting tolerance (collective), from a cold start so that the
    // reported objects are a function of the solution alone, not of the solver's path.
    var reporting = options.evaluation
    reporting.householdTolerance = options.reportingHouseholdTolerance
    reporting.warmStart = false
    let report = try evaluator.evaluate(prices: prices(x), options: reporting)
    return EquilibriumResult(unknowns: x, unknownNames: closure.unknownNames(countries: world.names),
                             residuals: residuals, residualNames: closure.residualNames(countries: world.names),
                             reason: reason, iterations: Int(outcome[3 + 2 * n]),
                             evaluations: Int(outcome[4 + 2 * n]), prices: prices(x), report: report,
                             reportResiduals: closure.residuals(report, world: world))
}

extension ConvergenceReason {
    static let ordered: [ConvergenceReason] = [.residualTolerance, .maxIterations, .maxEvaluations,
                                               .notMakingProgress, .nonFiniteInitialResidual]
    static func allCasesIndex(_ r: ConvergenceReason) -> Int { ordered.firstIndex(of: r)! }
    static func fromIndex(_ i: Int) -> ConvergenceReason { ordered[i] }
}
