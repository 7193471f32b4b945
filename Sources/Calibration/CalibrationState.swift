import Equilibrium
import Foundation
import Gravity
import HATModel
import Parallel
import Solvers

/// What the calibration holds fixed and where it starts (HAT-SPEC §5.5–5.6): the data world Θ ↦ World, the
/// household model, the fixed-rate closure that solves wages and β at every Θ, and the outer settings.
public struct CalibrationProblem: Sendable {
    public var dataWorld: DataWorld
    /// Ad-valorem tariffs kept at every Θ (M × M, row = importer; zero in the paper).
    public var tariffs: [Double]
    /// The supply side kept at every Θ (Armington in the paper).
    public var supply: any SupplySide = ArmingtonSupply()
    public var model: ModelParameters
    /// The inner equilibrium: closure (fixed-rate), tolerances, and the first guess at Θ₀.
    public var equilibrium: EquilibriumOptions
    /// Outer tolerance on the max-abs moment gap.
    public var tolerance: Double
    public var maxIterations: Int
    /// Absolute forward-difference step on Θ and on the log wages and log β.
    public var jacobianStep: Double
    public var checkpointEverySeconds: Double
    public var theta0: [Double]

    public init(dataWorld: DataWorld, tariffs: [Double], model: ModelParameters, equilibrium: EquilibriumOptions,
                tolerance: Double, maxIterations: Int, jacobianStep: Double, checkpointEverySeconds: Double,
                theta0: [Double]) {
        self.dataWorld = dataWorld; self.tariffs = tariffs; self.model = model; self.equilibrium = equilibrium
        self.tolerance = tolerance; self.maxIterations = maxIterations; self.jacobianStep = jacobianStep
        self.checkpointEverySeconds = checkpointEverySeconds; self.theta0 = theta0
    }

    public var countries: Int { dataWorld.countries }
    /// 46 for 19 countries.
    public var parameterCount: Int { TradeCostParameters.count(countries: countries) }
    /// Inner unknowns: M − 1 log wages and log β.
    public var innerCount: Int { countries }

    /// The world at Θ (tariffs kept), or nil when Θ gives a TFP or a trade cost that is not finite.
    public func world(at theta: [Double]) -> World? {
        guard theta.allSatisfy({ $0.isFinite }),
              var w = try? dataWorld.world(for: TradeCostParameters(vector: theta, countries: countries)) else { return nil }
        w.tariffs = tariffs
        w.supply = supply
        return w
    }

    /// The names of Θ's entries, in order (log TFPs, θm, distance bins, dummies).
    public var parameterNames: [String] {
        let names = dataWorld.data.countries
        return names.dropLast().map { "log_tfp_\($0)" } + names.dropLast().map { "theta_m_\($0)" }
            + ["dist_0_375", "dist_375_750", "dist_750_1500", "dist_1500_3000", "dist_3000_6000", "dist_6000_max"]
            + GravityMoments.dummyNames
    }
}

/// The result of one moment evaluation y(Θ): the inner equilibrium x*(Θ) and the gap, identical on every rank.
public struct MomentPoint: Sendable, Equatable, Packable {
    public var theta: [Double]
    /// x*(Θ): log(ŵ_1..ŵ_{M−1}), log β (the fixed-rate closure's unknowns).
    public var unknowns: [Double]
    /// Model moments minus data moments (46); NaN when the inner equilibrium failed.
    public var gap: [Double]
    /// Market residuals (M) and model moments (46) of the reporting evaluation at (x*, Θ): the base point of
    /// the Jacobian's differences.
    public var base: [Double]
    public var converged: Bool
    /// The inner solve's own record (a converged point only; nil in a checkpoint of schema 1).
    public var inner: InnerSolveRecord?

    public func pack(into m: inout MessageWriter) {
        m.write(theta); m.write(unknowns); m.write(gap); m.write(base); m.write(converged); m.write(inner)
    }
    public init(unpacking m: inout MessageReader) throws {
        theta = try m.read(); unknowns = try m.read(); gap = try m.read(); base = try m.read(); converged = try m.read()
        inner = try m.read()
    }
    init(theta: [Double], unknowns: [Double], gap: [Double], base: [Double], converged: Bool, inner: InnerSolveRecord? = nil) {
        self.theta = theta; self.unknowns = unknowns; self.gap = gap; self.base = base; self.converged = converged
        self.inner = inner
    }
}

/// What the outputs report of a moment evaluation's inner solve beyond x* (the solver's residuals, why and
/// how it stopped). The reported objects are a function of x* alone (a cold reporting evaluation), but these
/// are the solver's path: a calibration resumed at its end reports them from the checkpoint, so that its
/// outputs have the bits of the uninterrupted run.
public struct InnerSolveRecord: Sendable, Equatable, Packable {
    /// Market residuals at x* in the solver's evaluation (household tolerance of the solve).
    public var residuals: [Double]
    public var reason: ConvergenceReason
    public var detail: String
    public var strategy: String
    public var iterations: Int
    public var evaluations: Int
    public var noise: Double?

    public init(_ r: EquilibriumResult) {
        residuals = r.residuals; reason = r.reason; detail = r.reasonDetail; strategy = r.strategy
        iterations = r.iterations; evaluations = r.evaluations; noise = r.residualNoise
    }
    init(residuals: [Double], reason: ConvergenceReason, detail: String, strategy: String, iterations: Int,
         evaluations: Int, noise: Double?) {
        self.residuals = residuals; self.reason = reason; self.detail = detail; self.strategy = strategy
        self.iterations = iterations; self.evaluations = evaluations; self.noise = noise
    }

    /// The numbers of the record as a checkpoint stores them: reason, iterations, evaluations, whether
    /// there is a noise estimate, the estimate (0 without).
    var counters: [Double] { [Double(reason.rawValue), Double(iterations), Double(evaluations), noise == nil ? 0 : 1, noise ?? 0] }

    /// The record from a checkpoint's residuals, counters and strings; nil when the counters are not valid.
    init?(residuals: [Double], counters c: [Double], detail: String, strategy: String) {
        func count(_ d: Double) -> Int? { d >= 0 && d <= 1e12 ? Int(exactly: d) : nil }
        guard c.count == 5, let raw = Int32(exactly: c[0]), let reason = ConvergenceReason(rawValue: raw),
              let iterations = count(c[1]), let evaluations = count(c[2]), c[3] == 0 || c[3] == 1 else { return nil }
        self.init(residuals: residuals, reason: reason, detail: detail, strategy: strategy, iterations: iterations,
                  evaluations: evaluations, noise: c[3] == 1 ? c[4] : nil)
    }

    public func pack(into m: inout MessageWriter) {
        m.write(residuals); m.write(reason.rawValue); m.write(detail); m.write(strategy)
        m.write(iterations); m.write(evaluations); m.write(noise)
    }
    public init(unpacking m: inout MessageReader) throws {
        residuals = try m.read()
        let raw: Int32 = try m.read()
        guard let reason = ConvergenceReason(rawValue: raw) else { throw MessageError.invalid("convergence reason \(raw)") }
        self.reason = reason
        detail = try m.read(); strategy = try m.read(); iterations = try m.read(); evaluations = try m.read(); noise = try m.read()
    }
}

/// Columns of the Jacobian done so far at one point (kept across checkpoints).
public struct PartialJacobian: Sendable, Equatable, Packable {
    public var theta: [Double]
    /// Column indices done: 0..<M are the inner unknowns, M..<M+46 the parameters.
    public var done: [Int]
    /// Each done column: d[F; y] (M + 46 entries).
    public var columns: [[Double]]
    /// Moment evaluations the Jacobian needed before its columns (0 or 1), so that the counts a resumed
    /// solve reports agree with the uninterrupted one.
    public var refreshes: Int

    public func pack(into m: inout MessageWriter) {
        m.write(theta); m.write(done.count); for k in done { m.write(k) }; m.write(columns); m.write(refreshes)
    }
    public init(unpacking m: inout MessageReader) throws {
        theta = try m.read()
        let n: Int = try m.read()
        guard n >= 0, n <= 1 << 20 else { throw MessageError.invalid("partial jacobian column count \(n)") }
        done = try (0..<n).map { _ in try m.read() }
        columns = try m.read()
        guard columns.count == n else { throw MessageError.invalid("partial jacobian: \(n) indices, \(columns.count) columns") }
        refreshes = try m.read()
    }
    init(theta: [Double], refreshes: Int) { self.theta = theta; done = []; columns = []; self.refreshes = refreshes }
}

/// One row of the outer history.
public struct HistoryEntry: Sendable, Equatable {
    public var iteration: Int
    public var maxGap: Double
    public var step: Double
    public var worldEvaluations: Int
    public var elapsed: Double
    public static let width = 5
    var values: [Double] { [Double(iteration), maxGap, step, Double(worldEvaluations), elapsed] }
    init(values v: [Double]) {
        iteration = Int(v[0]); maxGap = v[1]; step = v[2]; worldEvaluations = Int(v[3]); elapsed = v[4]
    }
    init(iteration: Int, maxGap: Double, step: Double, worldEvaluations: Int, elapsed: Double) {
        self.iteration = iteration; self.maxGap = maxGap; self.step = step; self.worldEvaluations = worldEvaluations
        self.elapsed = elapsed
    }
}

/// Everything the root's outer loop carries, written into every checkpoint (the world solution is written
/// beside it by the ranks that own each country).
public struct CalibrationProgress: Sendable, Packable {
    /// Checkpoint number (0 before the first moment evaluation).
    public var sequence = 0
    /// The outer root finder's state at the last iteration boundary (nil before the first).
    public var state: HybridState?
    public var last: MomentPoint?
    public var partial: PartialJacobian?
    public var outerIterations = 0
    public var jacobians = 0
    public var worldEvaluations = 0
    public var history: [HistoryEntry] = []
    /// Seconds spent in this calibration over all runs (before this one resumed, plus this run).
    public var elapsed = 0.0
    /// Where it is, for `hat inspect` ("start", "iteration 3", "jacobian 20/65 at iteration 3", "stopped", ...).
    public var phase = "start"

    public init() {}

    public func pack(into m: inout MessageWriter) {
        m.write(sequence); m.write(state?.values); m.write(last); m.write(partial)
        m.write(outerIterations); m.write(jacobians); m.write(worldEvaluations)
        m.write(history.flatMap(\.values)); m.write(elapsed); m.write(phase)
    }
    public init(unpacking m: inout MessageReader) throws {
        sequence = try m.read()
        let values: [Double]? = try m.read()
        if let values {
            guard let s = HybridState(values: values) else { throw MessageError.invalid("hybrid state") }
            state = s
        }
        last = try m.read(); partial = try m.read()
        outerIterations = try m.read(); jacobians = try m.read(); worldEvaluations = try m.read()
        let h: [Double] = try m.read()
        guard h.count % HistoryEntry.width == 0 else { throw MessageError.invalid("history") }
        history = stride(from: 0, to: h.count, by: HistoryEntry.width).map { HistoryEntry(values: Array(h[$0..<($0 + HistoryEntry.width)])) }
        elapsed = try m.read(); phase = try m.read()
    }
}

/// The calibration was asked to stop (SIGTERM/SIGUSR1, agreed by every rank).
struct StopRequested: Error {}

/// The outer iteration cannot go on (no finite Jacobian); it ends as not converged.
struct OuterFailure: Error { let reason: String }

/// How a calibration ended, sent from the root to every rank.
public struct CalibrationOutcome: Sendable, Packable {
    public enum Status: Int, Sendable { case converged = 1, notConverged = 0, stopped = 75 }
    public var status: Status
    public var reason: ConvergenceReason
    public var theta: [Double]
    public var progress: CalibrationProgress

    public func pack(into m: inout MessageWriter) {
        m.write(status.rawValue); m.write(reason.rawValue); m.write(theta); m.write(progress)
    }
    public init(unpacking m: inout MessageReader) throws {
        let raw: Int = try m.read()
        let r: Int32 = try m.read()
        guard let s = Status(rawValue: raw), let reason = ConvergenceReason(rawValue: r) else {
            throw MessageError.invalid("calibration outcome")
        }
        status = s; self.reason = reason
        theta = try m.read(); progress = try m.read()
    }
    init(status: Status, reason: ConvergenceReason, theta: [Double], progress: CalibrationProgress) {
        self.status = status; self.reason = reason; self.theta = theta; self.progress = progress
    }
}
