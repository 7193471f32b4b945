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
    /// The monitor asked to stop (a signal, a time budget). The result carries the state to resume from.
    case interrupted = -6

    public var converged: Bool { rawValue > 0 }

    public var message: String {
        switch self {
        case .residualTolerance: return "converged: max-abs residual below tolerance"
        case .maxIterations: return "diverged: iteration limit reached"
        case .maxEvaluations: return "diverged: residual-evaluation limit reached"
        case .notMakingProgress: return "diverged: not making progress (trust region collapsed or residual stalled, also with a fresh Jacobian)"
        case .nonFiniteInitialResidual: return "diverged: residual not finite at the initial guess"
        case .noiseFloor: return "diverged: stalled at the residual's noise floor"
        case .interrupted: return "interrupted: stopped on request before converging (resumable)"
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
    /// The solver's state when it stopped, to resume from (`HybridRootFinder.resume`); nil when it stopped
    /// before it had one (a non-finite or already-converged initial residual, no unknowns).
    public var state: HybridState?
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
    /// Relative forward-difference step (`differenceStep`): h_j = jacobianStep · max(|x_j|, typicalMagnitude).
    /// The finder's own columns use it, not a supplied `JacobianFunction`. MINPACK's default √ε suits a
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

    /// Solve F(x) = 0 from `x0`. `monitor` sees every iteration and may ask to stop (`.stop`): the solve
    /// then ends with `.interrupted` and a `state` that `resume` continues from exactly as if it had never
    /// stopped. `jacobian`, when given, replaces the sequential forward differences (e.g. columns computed on
    /// rank groups with `differenceColumn`).
    public func solve(from x0: [Double], jacobian: JacobianFunction? = nil,
                      monitor: (IterationRecord) -> MonitorAction = { _ in .proceed },
                      residual F: ([Double]) throws -> [Double]) throws -> RootFindingResult {
        let n = x0.count
        let evaluations = 1
        let f = try F(x0)
        func early(_ reason: ConvergenceReason) -> RootFindingResult {
            RootFindingResult(x: x0, residual: f, reason: reason, iterations: 0, evaluations: evaluations,
                              jacobianEvaluations: 0, noise: nil, state: nil)
        }
        guard f.allSatisfy({ $0.isFinite }) else { return early(.nonFiniteInitialResidual) }
        let record0 = IterationRecord(iteration: 0, residualMax: normInf(f), residualNorm: norm2(f), stepNorm: 0,
                                      accepted: true, trustRadius: .nan, evaluations: evaluations,
                                      jacobianEvaluations: 0, note: nil)
        let action = monitor(record0)
        if normInf(f) <= tolerance { return early(.residualTolerance) }
        if n == 0 { return early(.notMakingProgress) }
        var state = HybridState(x: x0, f: f, n: n)
        state.evaluations = evaluations
        state.pending = .initialJacobian
        if action == .stop { return result(state, .interrupted) }
        return try iterate(state, jacobian: jacobian, monitor: monitor, residual: F)
    }

    /// Continue a solve from a saved state (see `solve`): after `.interrupted`, or after `.maxIterations` /
    /// `.maxEvaluations` with a larger budget. With the same residual function and the same finder settings
    /// the result is bitwise the one the uninterrupted solve would have given.
    public func resume(from state: HybridState, jacobian: JacobianFunction? = nil,
                       monitor: (IterationRecord) -> MonitorAction = { _ in .proceed },
                       residual F: ([Double]) throws -> [Double]) throws -> RootFindingResult {
        guard state.isValid else { throw RootFinderError.invalidState }
        return try iterate(state, jacobian: jacobian, monitor: monitor, residual: F)
    }

    /// The difference convention of this finder's Jacobian columns: h_j = jacobianStep ·
    /// max(|x_j|, typicalMagnitude), the quotient over the step taken, backwards (minus the step taken) when
    /// the forward point is infeasible.
    public var differenceStep: DifferenceStep {
        DifferenceStep(.relative(jacobianStep, floor: typicalMagnitude), backward: .mirrorTaken)
    }

    /// Column j of the forward-difference Jacobian at x (F(x) = f) by `differenceStep`. Returns the column
    /// and the residual evaluations it used (1 or 2). Any rank group computing a column gets the same bits.
    public func differenceColumn(_ j: Int, at x: [Double], residual f: [Double],
                                 evaluate: ([Double]) throws -> [Double]) rethrows -> (column: [Double], evaluations: Int) {
        let c = try differenceStep.column(j, at: x, residual: f, evaluate: evaluate)
        return (c.values, c.evaluations)
    }

    private func computeJacobian(_ s: inout HybridState, jacobian: JacobianFunction?,
                                 residual F: ([Double]) throws -> [Double]) throws {
        s.jacobianEvaluations += 1
        s.freshJacobian = true
        let n = s.x.count
        if let jacobian {
            let (jac, used) = try jacobian(s.x, s.f)
            precondition(jac.count == n * n, "JacobianFunction must return n × n entries")
            s.jacobian = jac
            s.evaluations += used
            return
        }
        var jac = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            let (column, used) = try differenceColumn(j, at: s.x, residual: s.f, evaluate: F)
            s.evaluations += used
            for i in 0..<n { jac[i * n + j] = column[i] }
        }
        s.jacobian = jac
    }

    private func initialRadius(_ s: HybridState) -> Double {
        let norm = s.scaledNorm(s.x)
        return trustFactor * (norm > 0 ? norm : 1)
    }

    private func result(_ s: HybridState, _ reason: ConvergenceReason) -> RootFindingResult {
        RootFindingResult(x: s.x, residual: s.f, reason: reason, iterations: s.iteration, evaluations: s.evaluations,
                          jacobianEvaluations: s.jacobianEvaluations, noise: s.noise, state: s)
    }

    /// The main loop. Everything it carries from one iteration to the next is in `s`. An iteration is a trial
    /// step (the only part that runs before a stop or a budget is honoured) followed by its consequences
    /// (`HybridState.Pending`: a Broyden update, or a fresh Jacobian after failures or a stall), which run at
    /// the start of the next iteration. A stop or a budget therefore never waits for a Jacobian, and the
    /// state it returns resumes exactly.
    private func iterate(_ start: HybridState, jacobian: JacobianFunction?,
                         monitor: (IterationRecord) -> MonitorAction,
                         residual F: ([Double]) throws -> [Double]) throws -> RootFindingResult {
        var s = start
        let n = s.x.count
        let maxEvals = maxEvaluations ?? 200 * (n + 1)
        func evaluate(_ x: [Double]) throws -> [Double] { s.evaluations += 1; return try F(x) }
        func record(step: Double, accepted: Bool, note: String? = nil) -> IterationRecord {
            IterationRecord(iteration: s.iteration, residualMax: normInf(s.f), residualNorm: norm2(s.f), stepNorm: step,
                            accepted: accepted, trustRadius: s.delta, evaluations: s.evaluations,
                            jacobianEvaluations: s.jacobianEvaluations, note: note)
        }
        while true {
            // The consequences of the last trial step.
            switch s.pending {
            case .none:
                break
            case .initialJacobian:
                s.pending = .none
                try computeJacobian(&s, jacobian: jacobian, residual: F)
                s.updateScaling()
                s.fnorm = norm2(s.f)
                s.delta = initialRadius(s)
            case let .afterStep(step):
                s.pending = .none
                let stalled = s.slow >= 10 || s.delta <= 1e-15 * max(s.scaledNorm(s.x), 1e-300)
                if stalled {
                    if !s.freshJacobian && s.fnorm < 0.9 * (s.normAtRetry ?? .infinity) {
                        // The Broyden model may be what stalls: start again from a finite-difference Jacobian.
                        s.normAtRetry = s.fnorm
                        try computeJacobian(&s, jacobian: jacobian, residual: F)
                        s.updateScaling()
                        s.delta = initialRadius(s)
                        s.firstStep = true
                        s.slow = 0; s.failures = 0; s.successes = 0
                        if monitor(record(step: 0, accepted: false,
                                          note: "stalled with a Broyden-updated Jacobian: fresh finite-difference Jacobian, trust region reset")) == .stop {
                            return result(s, .interrupted)
                        }
                        continue
                    }
                    if probeNoise && normInf(s.f) > tolerance {
                        let x = s.x, f = s.f, diag = s.diag
                        s.noise = try estimateNoise(at: x, f: f, diag: diag, evaluate: evaluate)
                        let level = s.noise ?? 0
                        _ = monitor(record(step: 0, accepted: false,
                                           note: String(format: "stalled: measured residual noise %.2e (max-abs residual %.3e, tolerance %.1e)",
                                                        level, normInf(s.f), tolerance)))
                        if level > 0 && level.isFinite && normInf(s.f) <= noiseMultiple * level { return result(s, .noiseFloor) }
                    }
                    return result(s, .notMakingProgress)
                }
                if s.failures >= 2 {
                    try computeJacobian(&s, jacobian: jacobian, residual: F)     // the Broyden model has gone stale
                    s.updateScaling()
                    s.failures = 0
                } else if let fTrial = step.trialResidual, step.size > 0 {
                    // Broyden rank-one update with the trial point: J += ((F(x+p) − F(x) − J p) pᵀ)/(pᵀp).
                    let p = step.step
                    let jp = matVec(s.jacobian, p, n: n)
                    let pp = dot(p, p)
                    for i in 0..<n {
                        let r = (fTrial[i] - step.previousResidual[i] - jp[i]) / pp
                        for j in 0..<n { s.jacobian[i * n + j] += r * p[j] }
                    }
                    s.freshJacobian = false
                }
            }

            // A trial step.
            s.iteration += 1
            // Dogleg in scaled variables y = D x: J_s = J D⁻¹, then p = D⁻¹ p_s.
            var scaledJac = s.jacobian
            for i in 0..<n { for j in 0..<n { scaledJac[i * n + j] /= s.diag[j] } }
            let ps = doglegStep(jacobian: scaledJac, residual: s.f, radius: s.delta, n: n)
            let p = (0..<n).map { ps[$0] / s.diag[$0] }
            let pnorm = norm2(ps)
            if s.firstStep { s.delta = min(s.delta, pnorm); s.firstStep = false }
            let xTrial = zip(s.x, p).map { $0 + $1 }
            let fTrial = try evaluate(xTrial)
            let trialFinite = fTrial.allSatisfy { $0.isFinite }
            let fnormTrial = trialFinite ? norm2(fTrial) : .infinity
            let actual = fnormTrial < s.fnorm ? 1 - (fnormTrial / s.fnorm) * (fnormTrial / s.fnorm) : -1
            let model = zip(s.f, matVec(s.jacobian, p, n: n)).map { $0 + $1 }
            let modelNorm = norm2(model)
            let predicted = modelNorm < s.fnorm ? 1 - (modelNorm / s.fnorm) * (modelNorm / s.fnorm) : 0
            let ratio = predicted > 0 ? actual / predicted : 0

            if ratio < 0.1 {
                s.successes = 0; s.failures += 1
                s.delta = 0.5 * min(s.delta, pnorm)
            } else {
                s.failures = 0; s.successes += 1
                if ratio >= 0.5 || s.successes > 1 { s.delta = max(s.delta, pnorm / 0.5) }
                if abs(ratio - 1) <= 0.1 { s.delta = pnorm / 0.5 }
            }
            let accepted = ratio >= 1e-4
            s.pending = .afterStep(HybridState.TrialStep(step: p, size: pnorm, previousResidual: s.f,
                                                         trialResidual: trialFinite ? fTrial : nil))
            if accepted { s.x = xTrial; s.f = fTrial; s.fnorm = fnormTrial }
            s.slow = actual >= 0.001 ? 0 : s.slow + 1
            let stop = monitor(record(step: pnorm, accepted: accepted)) == .stop

            if normInf(s.f) <= tolerance { s.pending = .none; return result(s, .residualTolerance) }
            if s.iteration >= maxIterations { return result(s, .maxIterations) }
            if s.evaluations >= maxEvals { return result(s, .maxEvaluations) }
            if stop { return result(s, .interrupted) }
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
                // Differences of huge residuals overflow: an infinite "noise" is no measurement.
                guard sigma.isFinite else { continue }
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

public enum RootFinderError: Error, CustomStringConvertible {
    /// `resume` was given a state whose sizes or values cannot be a hybrid state.
    case invalidState
    public var description: String { "root finder: the state to resume from is not valid (sizes or values)" }
}

/// What a monitor tells the solver after an iteration.
public enum MonitorAction: Sendable {
    case proceed
    /// End the solve with `.interrupted` and a resumable state.
    case stop
}

/// A Jacobian supplied from outside: (x, F(x)) ↦ (row-major n × n J, residual evaluations used).
public typealias JacobianFunction = (_ x: [Double], _ f: [Double]) throws -> (jacobian: [Double], evaluations: Int)

/// Everything the hybrid method carries between iterations, as a value: save it (`values`, or Codable:
/// a plain `JSONEncoder` works, every stored double is finite), restore it in another process, and `resume`
/// finishes exactly as the uninterrupted solve would have — with the same finder settings (tolerance,
/// steps, trust factor, caps), which are not part of the state.
public struct HybridState: Sendable, Equatable, Codable {
    public var x: [Double]
    public var f: [Double]
    /// Row-major n × n: a finite-difference Jacobian or its Broyden updates.
    public var jacobian: [Double]
    /// Whether `jacobian` is a finite-difference (or supplied) Jacobian, not a Broyden update.
    public var freshJacobian = true
    /// MINPACK mode-1 variable scaling (column norms, never decreasing).
    public var diag: [Double]
    public var fnorm = 0.0
    /// Trust radius.
    public var delta = 0.0
    public var firstStep = true
    public var failures = 0, successes = 0, slow = 0
    public var iteration = 0
    /// ‖F‖₂ when a stall last earned a fresh Jacobian (another retry needs real progress since then); nil
    /// before the first retry.
    public var normAtRetry: Double?
    public var evaluations = 0
    public var jacobianEvaluations = 0
    public var noise: Double?
    /// What the next iteration does first: the consequences of the last trial step, or the first Jacobian.
    public var pending: Pending = .none

    /// Work left over from the last iteration.
    public enum Pending: Sendable, Equatable, Codable {
        case none
        /// The first finite-difference Jacobian (a stop requested at iteration 0 skips it).
        case initialJacobian
        /// Stall check, then a fresh Jacobian or a Broyden update with this trial step.
        case afterStep(TrialStep)
    }

    /// A trial step and the residuals around it (for the Broyden update).
    public struct TrialStep: Sendable, Equatable, Codable {
        public var step: [Double]
        /// ‖D p‖₂, the scaled step length.
        public var size: Double
        /// F at the point the step was taken from.
        public var previousResidual: [Double]
        /// F at the trial point; nil when it was not finite (no Broyden update then).
        public var trialResidual: [Double]?
    }

    private enum CodingKeys: String, CodingKey {
        case x, f, jacobian, freshJacobian, diag, fnorm, delta, firstStep, failures, successes, slow, iteration,
             normAtRetry, evaluations, jacobianEvaluations, noise, pending
    }

    /// Decoding checks the state (`isValid`): a corrupt file is an error, not a crash in `resume`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        x = try c.decode([Double].self, forKey: .x); f = try c.decode([Double].self, forKey: .f)
        jacobian = try c.decode([Double].self, forKey: .jacobian); diag = try c.decode([Double].self, forKey: .diag)
        freshJacobian = try c.decode(Bool.self, forKey: .freshJacobian)
        fnorm = try c.decode(Double.self, forKey: .fnorm); delta = try c.decode(Double.self, forKey: .delta)
        firstStep = try c.decode(Bool.self, forKey: .firstStep)
        failures = try c.decode(Int.self, forKey: .failures); successes = try c.decode(Int.self, forKey: .successes)
        slow = try c.decode(Int.self, forKey: .slow); iteration = try c.decode(Int.self, forKey: .iteration)
        normAtRetry = try c.decodeIfPresent(Double.self, forKey: .normAtRetry)
        evaluations = try c.decode(Int.self, forKey: .evaluations)
        jacobianEvaluations = try c.decode(Int.self, forKey: .jacobianEvaluations)
        noise = try c.decodeIfPresent(Double.self, forKey: .noise)
        pending = try c.decode(Pending.self, forKey: .pending)
        guard isValid else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "not a valid hybrid root-finder state"))
        }
    }

    init(x: [Double], f: [Double], n: Int) {
        self.x = x; self.f = f
        jacobian = [Double](repeating: 0, count: n * n)
        diag = [Double](repeating: 0, count: n)
    }

    /// MINPACK mode 1: scale each variable by its Jacobian column norm, never decreasing.
    mutating func updateScaling() {
        let n = x.count
        for j in 0..<n {
            var s = 0.0
            for i in 0..<n { s += jacobian[i * n + j] * jacobian[i * n + j] }
            let norm = s.squareRoot()
            diag[j] = max(diag[j], norm.isFinite && norm > 0 ? norm : 0)
        }
        for j in 0..<n where diag[j] == 0 { diag[j] = 1 }
    }

    func scaledNorm(_ v: [Double]) -> Double {
        var s = 0.0
        for j in 0..<v.count { s += (diag[j] * v[j]) * (diag[j] * v[j]) }
        return s.squareRoot()
    }

    /// The state as numbers, for checkpoints: exact (doubles are stored as they are, counts are small
    /// integers). Layout: n, m, x, F, J, D, 14 scalars, then the pending work (0 none, 1 first Jacobian,
    /// 2 after a step: ‖D p‖, whether F(x + p) is finite, p, F(x), F(x + p) if finite).
    public var values: [Double] {
        var v = [Double(x.count), Double(f.count)] + x + f + jacobian + diag
        v += [freshJacobian ? 1 : 0, fnorm, delta, firstStep ? 1 : 0, Double(failures), Double(successes),
              Double(slow), Double(iteration), normAtRetry == nil ? 0 : 1, normAtRetry ?? 0, Double(evaluations),
              Double(jacobianEvaluations), noise == nil ? 0 : 1, noise ?? 0]
        switch pending {
        case .none: v.append(0)
        case .initialJacobian: v.append(1)
        case let .afterStep(t):
            v += [2, t.size, t.trialResidual == nil ? 0 : 1] + t.step + t.previousResidual + (t.trialResidual ?? [])
        }
        return v
    }

    /// The state from `values`; nil if they do not describe a valid state (wrong sizes, non-integer or
    /// negative counts, non-positive scaling, non-finite iterate).
    public init?(values v: [Double]) {
        func count(_ d: Double) -> Int? {
            guard d >= 0, d <= 1e9, let i = Int(exactly: d) else { return nil }
            return i
        }
        guard v.count >= 2, let n = count(v[0]), let m = count(v[1]), n >= 1, m == n else { return nil }
        let (nn, overflow) = n.multipliedReportingOverflow(by: n)
        guard !overflow, nn <= v.count else { return nil }
        let body = 2 + 3 * n + nn + 14
        guard v.count >= body + 1 else { return nil }
        var k = 2
        func take(_ c: Int) -> [Double] { defer { k += c }; return Array(v[k..<(k + c)]) }
        x = take(n); f = take(n); jacobian = take(nn); diag = take(n)
        let t = take(14)
        guard let failures = count(t[4]), let successes = count(t[5]), let slow = count(t[6]),
              let iteration = count(t[7]), let evaluations = count(t[10]), let jacobians = count(t[11]),
              [t[0], t[3], t[8], t[12]].allSatisfy({ $0 == 0 || $0 == 1 }) else { return nil }
        freshJacobian = t[0] == 1; fnorm = t[1]; delta = t[2]; firstStep = t[3] == 1
        self.failures = failures; self.successes = successes; self.slow = slow; self.iteration = iteration
        normAtRetry = t[8] == 1 ? t[9] : nil
        self.evaluations = evaluations; jacobianEvaluations = jacobians
        noise = t[12] == 1 ? t[13] : nil
        switch v[k] {
        case 0 where v.count == k + 1: pending = .none
        case 1 where v.count == k + 1: pending = .initialJacobian
        case 2:
            guard v.count >= k + 3 else { return nil }
            let size = v[k + 1], finite = v[k + 2]
            guard finite == 0 || finite == 1, v.count == k + 3 + 2 * n + (finite == 1 ? n : 0) else { return nil }
            k += 3
            let step = take(n), previous = take(n)
            pending = .afterStep(TrialStep(step: step, size: size, previousResidual: previous,
                                           trialResidual: finite == 1 ? take(n) : nil))
        default: return nil
        }
        guard isValid else { return nil }
    }

    /// Sizes agree, the iterate is finite and the scaling positive (what `resume` relies on).
    public var isValid: Bool {
        let n = x.count
        guard n >= 1, f.count == n, jacobian.count == n * n, diag.count == n,
              x.allSatisfy({ $0.isFinite }), f.allSatisfy({ $0.isFinite }),
              failures >= 0, successes >= 0, slow >= 0, iteration >= 0, evaluations >= 0, jacobianEvaluations >= 0
        else { return false }
        switch pending {
        case .initialJacobian: return true      // J and D are computed first
        case .none, .afterStep:
            guard diag.allSatisfy({ $0 > 0 && $0.isFinite }), delta.isFinite, fnorm.isFinite else { return false }
            if case let .afterStep(t) = pending {
                return t.step.count == n && t.previousResidual.count == n && (t.trialResidual?.count ?? n) == n
            }
            return true
        }
    }

}
