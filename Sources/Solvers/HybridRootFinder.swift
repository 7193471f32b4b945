import Foundation

/// Why a root finder stopped (PETSc SNES style: converged reasons first).
public enum ConvergenceReason: String, Sendable {
    /// max_i |F_i(x)| ≤ tolerance.
    case residualTolerance = "converged: max-abs residual below tolerance"
    case maxIterations = "diverged: iteration limit reached"
    case maxEvaluations = "diverged: residual-evaluation limit reached"
    case notMakingProgress = "diverged: not making progress (trust region collapsed or residual stalled)"
    case nonFiniteInitialResidual = "diverged: residual not finite at the initial guess"

    public var converged: Bool { self == .residualTolerance }
}

/// One line of the iteration log.
public struct IterationRecord: Sendable {
    public var iteration: Int
    /// max_i |F_i| at the accepted point.
    public var residualMax: Double
    /// ‖Δx‖₂ of the trial step (accepted or not).
    public var stepNorm: Double
    public var accepted: Bool
    public var trustRadius: Double
    public var evaluations: Int
    public var jacobianEvaluations: Int
}

public struct RootFindingResult: Sendable {
    public var x: [Double]
    public var residual: [Double]
    public var reason: ConvergenceReason
    public var iterations: Int
    public var evaluations: Int
    public var jacobianEvaluations: Int
    public var converged: Bool { reason.converged }
    public var residualMax: Double { normInf(residual) }
}

/// Powell's hybrid (dogleg trust-region) method, as MINPACK `hybrd` does it: a forward-difference
/// Jacobian (step √ε·|x_j|), dogleg steps between the Gauss–Newton and steepest-descent directions,
/// Broyden rank-one updates between Jacobian evaluations, and a fresh Jacobian after two failed steps.
/// A residual with a non-finite entry (an infeasible trial point) counts as a failed step.
public struct HybridRootFinder: Sendable {
    /// Converged when max_i |F_i| ≤ tolerance.
    public var tolerance: Double
    /// Accepted or rejected trial steps before giving up.
    public var maxIterations: Int
    /// Residual evaluations (including Jacobian columns) before giving up; MINPACK: 200 (n + 1).
    public var maxEvaluations: Int?
    /// Initial trust radius = factor · ‖x₀‖ (or factor if x₀ = 0), MINPACK's `factor`.
    public var trustFactor: Double = 100
    /// Relative forward-difference step h_j = step·|x_j| (step if x_j = 0). MINPACK's default √ε suits a
    /// residual accurate to machine precision; a residual with relative noise η (iterative inner solves)
    /// wants about √η (MINPACK's `epsfcn`).
    public var jacobianStep: Double = Double.ulpOfOne.squareRoot()

    public init(tolerance: Double, maxIterations: Int = 200, maxEvaluations: Int? = nil) {
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.maxEvaluations = maxEvaluations
    }

    /// Solve F(x) = 0 from `x0`. `monitor` sees every iteration.
    public func solve(from x0: [Double], monitor: (IterationRecord) -> Void = { _ in },
                      residual F: ([Double]) throws -> [Double]) rethrows -> RootFindingResult {
        let n = x0.count
        let maxEvals = maxEvaluations ?? 200 * (n + 1)
        var evaluations = 0, jacobians = 0
        func evaluate(_ x: [Double]) throws -> [Double] { evaluations += 1; return try F(x) }
        func finite(_ f: [Double]) -> Bool { f.allSatisfy { $0.isFinite } }

        var x = x0
        var f = try evaluate(x)
        func result(_ reason: ConvergenceReason, _ iterations: Int) -> RootFindingResult {
            RootFindingResult(x: x, residual: f, reason: reason, iterations: iterations,
                              evaluations: evaluations, jacobianEvaluations: jacobians)
        }
        guard finite(f) else { return result(.nonFiniteInitialResidual, 0) }
        monitor(IterationRecord(iteration: 0, residualMax: normInf(f), stepNorm: 0, accepted: true,
                                trustRadius: .nan, evaluations: evaluations, jacobianEvaluations: 0))
        if normInf(f) <= tolerance { return result(.residualTolerance, 0) }

        let relativeStep = jacobianStep
        func jacobian(at x: [Double], f: [Double]) throws -> [Double] {
            jacobians += 1
            var jac = [Double](repeating: 0, count: n * n)
            for j in 0..<n {
                var h = relativeStep * abs(x[j])
                if h == 0 { h = relativeStep }
                var xp = x
                xp[j] += h
                var fp = try evaluate(xp)
                if !finite(fp) {             // infeasible forward point: difference backwards
                    h = -h
                    xp[j] = x[j] + h
                    fp = try evaluate(xp)
                }
                for i in 0..<n { jac[i * n + j] = (fp[i] - f[i]) / h }
            }
            return jac
        }

        var jac = try jacobian(at: x, f: f)
        var fnorm = norm2(f)
        let xnorm0 = norm2(x)
        var delta = trustFactor * (xnorm0 > 0 ? xnorm0 : 1)
        var failures = 0, successes = 0, slow = 0, iteration = 0
        while true {
            iteration += 1
            let p = doglegStep(jacobian: jac, residual: f, radius: delta, n: n)
            let pnorm = norm2(p)
            if iteration == 1 { delta = min(delta, pnorm) }
            let xTrial = zip(x, p).map { $0 + $1 }
            let fTrial = try evaluate(xTrial)
            let trialFinite = finite(fTrial)
            let fnormTrial = trialFinite ? norm2(fTrial) : .infinity
            let actual = fnormTrial < fnorm ? 1 - (fnormTrial / fnorm) * (fnormTrial / fnorm) : -1
            let model = zip(f, matVec(jac, p, n: n)).map { $0 + $1 }
            let modelNorm = norm2(model)
            let predicted = modelNorm < fnorm ? 1 - (modelNorm / fnorm) * (modelNorm / fnorm) : 0
            let ratio = predicted > 0 ? actual / predicted : 0

            if ratio < 0.1 {
                successes = 0; failures += 1
                delta = 0.5 * min(delta, pnorm)
            } else {
                failures = 0; successes += 1
                if ratio >= 0.5 || successes > 1 { delta = max(delta, pnorm / 0.5) }
                if abs(ratio - 1) <= 0.1 { delta = pnorm / 0.5 }
            }
            let accepted = ratio >= 1e-4
            let fOld = f
            if accepted { x = xTrial; f = fTrial; fnorm = fnormTrial }
            slow = actual >= 0.001 ? 0 : slow + 1
            monitor(IterationRecord(iteration: iteration, residualMax: normInf(f), stepNorm: pnorm,
                                    accepted: accepted, trustRadius: delta, evaluations: evaluations,
                                    jacobianEvaluations: jacobians))

            if normInf(f) <= tolerance { return result(.residualTolerance, iteration) }
            if iteration >= maxIterations { return result(.maxIterations, iteration) }
            if evaluations >= maxEvals { return result(.maxEvaluations, iteration) }
            if slow >= 10 || delta <= 1e-15 * max(norm2(x), 1e-300) { return result(.notMakingProgress, iteration) }

            if failures >= 2 {
                jac = try jacobian(at: x, f: f)        // the Broyden model has gone stale
                failures = 0
            } else if trialFinite && pnorm > 0 {
                // Broyden rank-one update with the trial point: J += ((F(x+p) − F(x) − J p) pᵀ)/(pᵀp).
                let jp = matVec(jac, p, n: n)
                let pp = pnorm * pnorm
                for i in 0..<n {
                    let r = (fTrial[i] - fOld[i] - jp[i]) / pp
                    for j in 0..<n { jac[i * n + j] += r * p[j] }
                }
            }
        }
    }
}

/// The dogleg step for min ‖F + J p‖ within ‖p‖ ≤ radius.
func doglegStep(jacobian jac: [Double], residual f: [Double], radius: Double, n: Int) -> [Double] {
    let gradient = matTVec(jac, f, n: n).map { -$0 }          // steepest-descent direction −Jᵀf
    let gnorm = norm2(gradient)
    guard let newton = leastSquaresSolve(jac, f.map { -$0 }, n: n) else {
        return gnorm > 0 ? gradient.map { $0 * radius / gnorm } : gradient
    }
    let nnorm = norm2(newton)
    if nnorm <= radius { return newton }
    if gnorm == 0 { return newton.map { $0 * radius / nnorm } }
    let jg = matVec(jac, gradient, n: n)
    let alpha = gnorm * gnorm / max(dot(jg, jg), .leastNonzeroMagnitude)
    let cauchy = gradient.map { $0 * alpha }
    let cnorm = norm2(cauchy)
    if cnorm >= radius { return gradient.map { $0 * radius / gnorm } }
    // Walk from the Cauchy point towards the Newton point until the boundary: ‖c + τ(n − c)‖ = radius.
    let d = zip(newton, cauchy).map { $0 - $1 }
    let a = dot(d, d), b = 2 * dot(cauchy, d), c = cnorm * cnorm - radius * radius
    let tau = (-b + (b * b - 4 * a * c).squareRoot()) / (2 * a)
    return zip(cauchy, d).map { $0 + tau * $1 }
}
