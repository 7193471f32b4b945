import Foundation

/// Why a root finder stopped (PETSc SNES style: positive = converged, negative = diverged).
public enum ConvergenceReason: Int32, CaseIterable, Sendable {
    /// max_i |F_i(x)| ≤ tolerance.
    case residualTolerance = 1
    case maxIterations = -1
    case maxEvaluations = -2
    /// The trust region collapsed or the residual stalled, also after a fresh Jacobian.
    case notMakingProgress = -3
    case nonFiniteInitialResidual = -4
    /// Stalled within a small multiple of the residual's measured noise (inexact inner solves): the
    /// tolerance asks for more digits than the residual function has.
    case noiseFloor = -5

    public var converged: Bool { rawValue > 0 }

    public var message: String {
        switch self {
        case .residualTolerance: return "converged: max-abs residual below tolerance"
        case .maxIterations: return "diverged: iteration limit reached"
        case .maxEvaluations: return "diverged: residual-evaluation limit reached"
        case .notMakingProgress: return "diverged: not making progress (trust region collapsed or residual stalled, also with a fresh Jacobian)"
        case .nonFiniteInitialResidual: return "diverged: residual not finite at the initial guess"
        case .noiseFloor: return "diverged: stalled at the residual's noise floor"
        }
    }
}

/// One line of the iteration log.
public struct IterationRecord: Sendable {
    public var iteration: Int
    /// max_i |F_i| at the current (accepted) point.
    public var residualMax: Double
    /// ‖F‖₂ at the current point: the norm whose decrease decides acceptance.
    public var residualNorm: Double
    /// ‖D p‖₂ of the trial step (accepted or not), D the variable scaling.
    public var stepNorm: Double
    public var accepted: Bool
    public var trustRadius: Double
    public var evaluations: Int
    public var jacobianEvaluations: Int
    /// An event worth a log line of its own (a fresh Jacobian after a stall, a noise probe).
    public var note: String?
}

public struct RootFindingResult: Sendable {
    public var x: [Double]
    public var residual: [Double]
    public var reason: ConvergenceReason
    public var iterations: Int
    public var evaluations: Int
    public var jacobianEvaluations: Int
    /// Estimated noise (standard deviation, max over components) of the residual near `x`, when measured.
    public var noise: Double?
    public var converged: Bool { reason.converged }
    public var residualMax: Double { normInf(residual) }
}

/// Powell's hybrid (dogleg trust-region) method as MINPACK `hybrd` does it: a forward-difference Jacobian,
/// dogleg steps between the Gauss–Newton and steepest-descent directions in variables scaled by the
/// Jacobian's column norms (MINPACK `mode = 1`), Broyden rank-one updates between Jacobian evaluations, and a
/// fresh Jacobian after two failed steps.
///
/// Beyond `hybrd`: the forward-difference step has an absolute floor (an unknown at 0 or 1e-10 gets a
/// usable step, not 1e-18); a stall (trust region collapsed, or ten steps without real progress) first
/// earns a fresh Jacobian and a reset trust region, and only a second stall ends the solve; and a final
/// stall is classified as a noise floor when the residual is within `noiseMultiple` of its measured noise.
/// A residual with a non-finite entry (an infeasible trial point) counts as a failed step.
public struct HybridRootFinder: Sendable {
    /// Converged when max_i |F_i| ≤ tolerance.
    public var tolerance: Double
    /// Accepted or rejected trial steps before giving up.
    public var maxIterations: Int
    /// Residual evaluations (including Jacobian columns) before giving up; MINPACK: 200 (n + 1).
    public var maxEvaluations: Int?
    /// Initial trust radius = factor · ‖D x₀‖ (or factor if that is 0), MINPACK's `factor`.
    public var trustFactor: Double = 100
    /// Forward-difference step h_j = step · max(|x_j|, typicalMagnitude). MINPACK's default √ε suits a
    /// residual accurate to machine precision; a residual with relative noise η (iterative inner solves)
    /// wants about √η (MINPACK's `epsfcn`).
    public var jacobianStep: Double = Double.ulpOfOne.squareRoot()
    /// Size below which an unknown is treated as "about this big" for the difference step (unknowns in
    /// logs: 1). MINPACK has no floor, so an unknown near 0 got a step near 0 and a Jacobian of rounding noise.
    public var typicalMagnitude: Double = 1
    /// Classify a final stall as `.noiseFloor` when max|F| ≤ noiseMultiple · (measured noise).
    public var noiseMultiple: Double = 10
    /// Measure the residual's noise when the solve stalls above the tolerance (12 extra evaluations).
    public var probeNoise = true

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
        var noise: Double? = nil
        func result(_ reason: ConvergenceReason, _ iterations: Int) -> RootFindingResult {
            RootFindingResult(x: x, residual: f, reason: reason, iterations: iterations, evaluations: evaluations,
                              jacobianEvaluations: jacobians, noise: noise)
        }
        func record(_ iteration: Int, step: Double, accepted: Bool, radius: Double, note: String? = nil) -> IterationRecord {
            IterationRecord(iteration: iteration, residualMax: normInf(f), residualNorm: norm2(f), stepNorm: step,
                            accepted: accepted, trustRadius: radius, evaluations: evaluations,
                            jacobianEvaluations: jacobians, note: note)
        }
        guard finite(f) else { return result(.nonFiniteInitialResidual, 0) }
        monitor(record(0, step: 0, accepted: true, radius: .nan))
        if normInf(f) <= tolerance { return result(.residualTolerance, 0) }
        if n == 0 { return result(.notMakingProgress, 0) }

        func jacobian(at x: [Double], f: [Double]) throws -> [Double] {
            jacobians += 1
            var jac = [Double](repeating: 0, count: n * n)
            for j in 0..<n {
                var h = jacobianStep * max(abs(x[j]), typicalMagnitude)
                var xp = x
                xp[j] += h
                h = xp[j] - x[j]                 // the step actually taken in floating point
                var fp = try evaluate(xp)
                if !finite(fp) {                 // infeasible forward point: difference backwards
                    xp[j] = x[j] - h
                    h = xp[j] - x[j]
                    fp = try evaluate(xp)
                }
                for i in 0..<n { jac[i * n + j] = (fp[i] - f[i]) / h }
            }
            return jac
        }
        /// MINPACK mode 1: scale each variable by its Jacobian column norm, never decreasing.
        func updateScaling(_ diag: inout [Double], _ jac: [Double]) {
            for j in 0..<n {
                var s = 0.0
                for i in 0..<n { s += jac[i * n + j] * jac[i * n + j] }
                let norm = s.squareRoot()
                diag[j] = max(diag[j], norm.isFinite && norm > 0 ? norm : 0)
            }
            for j in 0..<n where diag[j] == 0 { diag[j] = 1 }
        }
        func scaledNorm(_ v: [Double], _ diag: [Double]) -> Double {
            var s = 0.0
            for j in 0..<n { s += (diag[j] * v[j]) * (diag[j] * v[j]) }
            return s.squareRoot()
        }

        var jac = try jacobian(at: x, f: f)
        var fresh = true                           // jac is a finite-difference Jacobian, not a Broyden update
        var diag = [Double](repeating: 0, count: n)
        updateScaling(&diag, jac)
        var fnorm = norm2(f)
        func initialRadius() -> Double { let s = scaledNorm(x, diag); return trustFactor * (s > 0 ? s : 1) }
        var delta = initialRadius()
        var firstStep = true
        var failures = 0, successes = 0, slow = 0, iteration = 0
        // ‖F‖₂ when a stall last earned a fresh Jacobian: another retry needs real progress since then.
        var normAtRetry = Double.infinity
        while true {
            iteration += 1
            // Dogleg in scaled variables y = D x: J_s = J D⁻¹, then p = D⁻¹ p_s.
            var scaledJac = jac
            for i in 0..<n { for j in 0..<n { scaledJac[i * n + j] /= diag[j] } }
            let ps = doglegStep(jacobian: scaledJac, residual: f, radius: delta, n: n)
            let p = (0..<n).map { ps[$0] / diag[$0] }
            let pnorm = norm2(ps)
            if firstStep { delta = min(delta, pnorm); firstStep = false }
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
            monitor(record(iteration, step: pnorm, accepted: accepted, radius: delta))

            if normInf(f) <= tolerance { return result(.residualTolerance, iteration) }
            if iteration >= maxIterations { return result(.maxIterations, iteration) }
            if evaluations >= maxEvals { return result(.maxEvaluations, iteration) }
            let stalled = slow >= 10 || delta <= 1e-15 * max(scaledNorm(x, diag), 1e-300)
            if stalled {
                if !fresh && fnorm < 0.9 * normAtRetry {
                    // The Broyden model may be what stalls: start again from a finite-difference Jacobian.
                    normAtRetry = fnorm
                    jac = try jacobian(at: x, f: f)
                    fresh = true
                    updateScaling(&diag, jac)
                    delta = initialRadius()
                    firstStep = true
                    slow = 0; failures = 0; successes = 0
                    monitor(record(iteration, step: 0, accepted: false, radius: delta,
                                   note: "stalled with a Broyden-updated Jacobian: fresh finite-difference Jacobian, trust region reset"))
                    continue
                }
                if probeNoise && normInf(f) > tolerance {
                    noise = try estimateNoise(at: x, f: f, diag: diag, evaluate: evaluate)
                    let level = noise ?? 0
                    monitor(record(iteration, step: 0, accepted: false, radius: delta,
                                   note: String(format: "stalled: measured residual noise %.2e (max-abs residual %.3e, tolerance %.1e)",
                                                level, normInf(f), tolerance)))
                    if level > 0 && normInf(f) <= noiseMultiple * level { return result(.noiseFloor, iteration) }
                }
                return result(.notMakingProgress, iteration)
            }

            if failures >= 2 {
                jac = try jacobian(at: x, f: f)        // the Broyden model has gone stale
                fresh = true
                updateScaling(&diag, jac)
                failures = 0
            } else if trialFinite && pnorm > 0 {
                // Broyden rank-one update with the trial point: J += ((F(x+p) − F(x) − J p) pᵀ)/(pᵀp).
                let jp = matVec(jac, p, n: n)
                let pp = dot(p, p)
                for i in 0..<n {
                    let r = (fTrial[i] - fOld[i] - jp[i]) / pp
                    for j in 0..<n { jac[i * n + j] += r * p[j] }
                }
                fresh = false
            }
        }
    }

    /// The residual's noise near x (Moré & Wild's ECnoise idea): along one direction, third differences of
    /// F at 7 equally spaced points cancel the smooth part up to O(h³) and leave about √20 σ of the noise.
    /// Two spacings (1e-7 and 1e-5 relative) so that discontinuities such as an inner iteration count that
    /// changes are crossed. Returns the largest per-component estimate, or nil if no probe point was finite.
    func estimateNoise(at x: [Double], f: [Double], diag: [Double],
                       evaluate: ([Double]) throws -> [Double]) rethrows -> Double? {
        let n = x.count
        // Direction with alternating signs, each unknown moved by about its own size (≥ typicalMagnitude).
        let d = (0..<n).map { j in (j % 2 == 0 ? 1.0 : -1.0) * max(abs(x[j]), typicalMagnitude) / Double(n).squareRoot() }
        var estimate: Double? = nil
        for h in [1e-7, 1e-5] {
            var values: [[Double]] = []
            for k in -3...3 {
                values.append(k == 0 ? f : try evaluate((0..<n).map { x[$0] + Double(k) * h * d[$0] }))
            }
            guard values.allSatisfy({ $0.allSatisfy { $0.isFinite } }) else { continue }
            for i in 0..<f.count {
                var sum = 0.0
                for k in 0..<4 {
                    let third = values[k + 3][i] - 3 * values[k + 2][i] + 3 * values[k + 1][i] - values[k][i]
                    sum += third * third
                }
                let sigma = (sum / 4 / 20).squareRoot()
                estimate = max(estimate ?? 0, sigma)
            }
        }
        return estimate
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
