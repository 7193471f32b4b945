import Equilibrium
import Foundation
import Gravity
import HATModel
import Parallel
import Solvers

/// The gravity-as-a-guide calibration (HAT-SPEC §5.6 (i) with a working outer loop): find Θ (46) such that
/// the gravity regression on the model's trade shares reproduces the data's moments, with wages and β
/// solved at every Θ (fixed-rate closure).
///
/// - The outer root finder (the hybrid method with Broyden updates) runs on the world root; every rank
///   follows it through a `CollectiveDriver`.
/// - y(Θ): the inner equilibrium on the world communicator (countries partitioned), warm-started from the
///   solution at the previous moment evaluation (`WorldEvaluator.anchor`) and from its x*.
/// - Jacobians by the implicit-function theorem at x*(Θ): dy/dΘ = ∂y/∂Θ − ∂y/∂x (∂F/∂x)⁻¹ ∂F/∂Θ, one world
///   evaluation per column (M + 46 columns), spread over rank groups; each column starts from the anchor,
///   so it has the same bits on any group and any rank count.
/// - Checkpoints after every outer iteration and inside a Jacobian (see `CheckpointStore`).
public final class CalibrationRun {
    public let problem: CalibrationProblem
    public let communicator: Communicator
    public let groups: Int
    public let groupIndex: Int
    /// The inner equilibria (world communicator).
    public let evaluator: WorldEvaluator
    /// Jacobian columns (the group's communicator; the same object when there is one group).
    let columnEvaluator: WorldEvaluator
    let log: Logger
    /// Anchor solutions this rank holds: every country when there are several groups, else the owned ones.
    public private(set) var anchors: [Int: CountrySolution] = [:]
    /// The last moment evaluation (every rank).
    public private(set) var last: MomentPoint?
    /// The inner solve of the last moment evaluation, for the outputs (every rank).
    public private(set) var lastResult: EquilibriumResult?
    /// Whether the world evaluator's workspaces still hold the last moment evaluation's reporting solution.
    public private(set) var workspacesHoldLast = false
    /// Called collectively on every rank to write a checkpoint.
    public var writeCheckpoint: (CalibrationProgress) throws -> Void = { _ in }
    /// For kill tests: called at named points ("jacobian-batch", "inner", "boundary").
    public var faultPoint: (String) -> Void = { _ in }

    public init(problem: CalibrationProblem, communicator: Communicator, groups: Int, log: Logger) throws {
        precondition(groups >= 1 && groups <= communicator.size)
        self.problem = problem
        self.communicator = communicator
        self.groups = groups
        self.log = log
        // Contiguous groups: ranks [g P/G, (g+1) P/G) form group g (Partition's rule).
        let partition = Partition(count: communicator.size, parts: groups)
        groupIndex = (0..<groups).first { partition.range(of: $0).contains(communicator.rank) }!
        let world0 = problem.world(at: problem.theta0)!
        let income = IncomeProcess(problem.model.income)
        evaluator = try WorldEvaluator(world: world0, model: problem.model, communicator: communicator, income: income)
        if groups == 1 {
            columnEvaluator = evaluator
        } else {
            let group = try communicator.split(color: groupIndex, key: communicator.rank)
            columnEvaluator = try WorldEvaluator(world: world0, model: problem.model, communicator: group, income: income)
        }
    }

    var m: Int { problem.countries }
    let innerLog = ProcessInfo.processInfo.environment["HAT_INNER_LOG"] == "1"
    /// Progress lines of the long phases (the inner equilibria, the Jacobians) on the root.
    let progress = ProgressThrottle(interval: ProgressThrottle.interval(ProcessInfo.processInfo.environment))
    var closure: MarketClosure { problem.equilibrium.closure }

    // MARK: - Anchors

    /// Restore the anchors (and the last moment point) from a checkpoint: `owned` holds the world
    /// evaluator's owned countries; with several groups every rank gets every country.
    public func restore(last: MomentPoint?, owned: [Int: CountrySolution]) throws {
        self.last = last
        try share(owned)
        workspacesHoldLast = false
    }

    private func share(_ owned: [Int: CountrySolution]) throws {
        if groups > 1 {
            // Owners are contiguous in country order, so the gathered list is in country order.
            let mine = evaluator.owned.compactMap { owned[$0] }
            let all = try communicator.allGather(mine)
            anchors = all.count == m ? Dictionary(uniqueKeysWithValues: all.enumerated().map { ($0.offset, $0.element) }) : [:]
        } else {
            anchors = owned
        }
        evaluator.anchor = anchors
        columnEvaluator.anchor = anchors
    }

    /// The world evaluator's workspaces of its owned countries, as solutions.
    private func solvedOwnedCountries() -> [Int: CountrySolution] {
        Dictionary(uniqueKeysWithValues: evaluator.owned.map { ($0, evaluator.solution(of: $0)) })
    }

    /// The anchors of the world evaluator's owned countries (what a checkpoint writes).
    public var ownedAnchors: [Int: CountrySolution] { anchors.filter { evaluator.owned.contains($0.key) } }

    // MARK: - Collective work

    enum Command: Packable {
        case moments(theta: [Double])
        case columns(indices: [Int])
        case checkpoint(CalibrationProgress)
        /// Rebuild the last moment evaluation's equilibrium result (after a resume) without solving again.
        case report

        func pack(into m: inout MessageWriter) {
            switch self {
            case .moments(let t): m.write(0); m.write(t)
            case .columns(let i): m.write(1); m.write(i.count); for k in i { m.write(k) }
            case .checkpoint(let p): m.write(2); m.write(p)
            case .report: m.write(3)
            }
        }
        init(unpacking m: inout MessageReader) throws {
            let tag: Int = try m.read()
            switch tag {
            case 0: self = .moments(theta: try m.read())
            case 1:
                let n: Int = try m.read()
                guard n >= 0, n <= 1 << 20 else { throw MessageError.invalid("column count \(n)") }
                self = .columns(indices: try (0..<n).map { _ in try m.read() })
            case 2: self = .checkpoint(try m.read())
            case 3: self = .report
            default: throw MessageError.invalid("calibration command \(tag)")
            }
        }
    }

    /// Reply of a served command on this rank (the root uses its own).
    enum Reply {
        case moments(evaluations: Int, interrupted: Bool)
        case columns([JacobianColumn])
        case done
    }

    /// Column `index` of d[F; y] and the world evaluations it used, as the group roots send it.
    struct JacobianColumn: Packable {
        var index: Int
        var values: [Double]
        var evaluations: Int
        func pack(into m: inout MessageWriter) { m.write(index); m.write(values); m.write(evaluations) }
        init(unpacking m: inout MessageReader) throws { index = try m.read(); values = try m.read(); evaluations = try m.read() }
        init(index: Int, values: [Double], evaluations: Int) { self.index = index; self.values = values; self.evaluations = evaluations }
    }

    func serve(_ command: Command) throws -> Reply {
        switch command {
        case .moments(let theta): return try serveMoments(theta)
        case .columns(let indices): return .columns(try serveColumns(indices))
        case .checkpoint(let progress):
            try writeCheckpoint(progress)
            return .done
        case .report:
            try serveReport()
            return .done
        }
    }

    /// The last converged point's result rebuilt after a resume: the reporting evaluation exactly as the
    /// moment evaluation made it (cold, at the reporting tolerance, a function of x* alone), with the inner
    /// solve's own record (residuals, reason, strategy, counts) from the checkpoint, so that the outputs of
    /// a resumed finished calibration have the bits of the uninterrupted run. A checkpoint of schema 1 has
    /// no record: the reporting evaluation's residuals stand in for the solver's.
    func serveReport() throws {
        guard let point = last, point.converged, let world = problem.world(at: point.theta) else {
            throw CalibrationError.internalState("report without a solved point")
        }
        try evaluator.update(world: world, model: problem.model)
        if let inner = point.inner {
            lastResult = try reportEquilibrium(evaluator: evaluator, options: problem.equilibrium, unknowns: point.unknowns,
                                               residuals: inner.residuals, reason: inner.reason, detail: inner.detail,
                                               strategy: inner.strategy, iterations: inner.iterations,
                                               evaluations: inner.evaluations, noise: inner.noise)
        } else {
            lastResult = try reportEquilibrium(evaluator: evaluator, options: problem.equilibrium, unknowns: point.unknowns,
                                               reason: .residualTolerance, detail: "rebuilt from the checkpoint at its x*",
                                               strategy: "checkpoint")
        }
        workspacesHoldLast = true
    }

    /// y(Θ): the inner equilibrium from the last x* and anchor, then the regression on its trade shares.
    /// Commits (last, anchors) only when the solve was not interrupted by a stop.
    func serveMoments(_ theta: [Double]) throws -> Reply {
        let nanGap = [Double](repeating: .nan, count: problem.parameterCount)
        let nanBase = [Double](repeating: .nan, count: m + problem.parameterCount)
        let start = last?.unknowns ?? closure.unknowns(at: problem.equilibrium.start, countries: m)
        guard let world = problem.world(at: theta) else {
            last = MomentPoint(theta: theta, unknowns: start, gap: nanGap, base: nanBase, converged: false)
            return .moments(evaluations: 0, interrupted: false)
        }
        try evaluator.update(world: world, model: problem.model)
        var options = problem.equilibrium
        options.evaluation.warmStart = true
        options.stopOnSignal = true
        options.start = EquilibriumStart(wages: (0..<m).map { $0 < m - 1 ? exp(start[$0]) : 1 },
                                         rate: options.start.rate, beta: exp(start[m - 1]))
        var coldStart = 0
        if anchors.isEmpty {
            // No solution yet (a fresh start): the first anchor is a cold solve at the start prices, so that
            // every evaluation of the inner solve is a function of (anchor, prices) from the first one on.
            var cold = options.evaluation
            cold.warmStart = false
            let out = try evaluator.evaluate(prices: closure.prices(from: start, countries: m), options: cold)
            coldStart = 1
            if !out.failed { try share(solvedOwnedCountries()) }
        }
        faultPoint("inner")
        // The inner solver's own lines are logged in full on request (HAT_INNER_LOG=1); otherwise a long solve
        // reports its lines and evaluations at most every `progress.interval` seconds.
        progress.begin()
        let started = Date()
        let inner: Logger
        if innerLog {
            inner = log
        } else {
            inner = Logger(communicator: evaluator.communicator) { [log, progress] line in
                if progress.due() { log("  inner: " + line) }
            }
            options.onEvaluation = { [log, progress] evaluations in
                if progress.due() {
                    log(String(format: "  inner equilibrium: %d world evaluation(s) so far, %.1f s", evaluations,
                               Date().timeIntervalSince(started)))
                }
            }
        }
        let r = try solveEquilibrium(evaluator: evaluator, options: options, log: inner)
        workspacesHoldLast = false
        if r.reason == .interrupted { return .moments(evaluations: coldStart + r.evaluations + 1, interrupted: true) }
        lastResult = r
        let solved = r.converged || (r.reason == .noiseFloor && r.residualMax <= 100 * options.tolerance)
        var point = MomentPoint(theta: theta, unknowns: r.unknowns, gap: nanGap, base: nanBase, converged: false)
        if solved, !r.report.failed, let fit = try? problem.dataWorld.modelFit(tradeShares: r.report.tradeShares) {
            let model = fit.moments.calibrationVector, data = problem.dataWorld.dataFit.moments.calibrationVector
            point.gap = zip(model, data).map { $0 - $1 }
            point.base = r.reportResiduals + model
            point.converged = point.base.allSatisfy { $0.isFinite }
        }
        if point.converged {
            point.inner = InnerSolveRecord(r)
            // The reporting evaluation (cold, at the reporting tolerance) is the new anchor.
            try share(solvedOwnedCountries())
            workspacesHoldLast = true
        } else {
            // A failed solve leaves the anchor where it was; so does the next start (its x*).
            point.gap = nanGap
            point.unknowns = start
        }
        last = point
        return .moments(evaluations: coldStart + r.evaluations + 1, interrupted: false)
    }

    /// Column k of d[F; y] at the last point: k < M moves an inner unknown, k ≥ M a parameter. Each group
    /// computes the columns k with k % G == its index; the group roots' columns reach every rank in order.
    func serveColumns(_ indices: [Int]) throws -> [JacobianColumn] {
        guard let base = last, base.converged else { throw CalibrationError.internalState("columns without a solved point") }
        var mine: [JacobianColumn] = []
        if groups > 1 { workspacesHoldLast = false }
        for k in indices where k % groups == groupIndex {
            mine.append(try differenceColumn(k, at: base))
        }
        if columnEvaluator === evaluator { workspacesHoldLast = false }
        let isGroupRoot = columnEvaluator.communicator.isRoot
        let all = groups > 1 ? try communicator.allGather(isGroupRoot ? mine : []) : mine
        return all.sorted { $0.index < $1.index }
    }

    /// [F; y] at (x, Θ) from the anchor at the reporting tolerance; NaN when the world cannot be evaluated.
    func evaluatePoint(unknowns x: [Double], theta: [Double]) throws -> [Double] {
        let n = m + problem.parameterCount
        guard let world = problem.world(at: theta) else { return [Double](repeating: .nan, count: n) }
        try columnEvaluator.update(world: world, model: problem.model)
        var options = problem.equilibrium.evaluation
        options.householdTolerance = problem.equilibrium.reportingHouseholdTolerance
        options.warmStart = true
        let out = try columnEvaluator.evaluate(prices: closure.prices(from: x, countries: m), options: options)
        guard !out.failed, let fit = try? problem.dataWorld.modelFit(tradeShares: out.tradeShares) else {
            return [Double](repeating: .nan, count: n)
        }
        return closure.residuals(out, world: world) + fit.moments.calibrationVector
    }

    /// The difference convention of the calibration's columns (`calibration.jacobian_step`, absolute, on the
    /// log wages and log β and on Θ): the quotient over the step taken, backwards (minus the nominal step)
    /// when the forward point cannot be evaluated.
    var differenceStep: DifferenceStep { DifferenceStep(.absolute(problem.jacobianStep), backward: .mirrorNominal) }

    /// Column k of d[F; y] at p: coordinate k of (x, Θ) moved by `differenceStep`; NaN when neither point
    /// could be evaluated.
    func differenceColumn(_ k: Int, at p: MomentPoint) throws -> JacobianColumn {
        let c = try differenceStep.column(k, at: p.unknowns + p.theta, residual: p.base) { z in
            try evaluatePoint(unknowns: Array(z[..<m]), theta: Array(z[m...]))
        }
        return JacobianColumn(index: k, values: c.finite ? c.values : [Double](repeating: .nan, count: p.base.count),
                              evaluations: c.evaluations)
    }

    /// y(Θ) (the gap, inner equilibrium re-solved) and, with `jacobian`, the implicit-function Jacobian dy/dΘ
    /// at Θ (row-major 46 × 46). Collective. For tests and diagnostics.
    public func probe(at theta: [Double], jacobian: Bool) throws -> ProbeResult {
        let driver = CollectiveDriver<Command>(communicator: communicator)
        return try driver.run(serve: { try self.serve($0) }) { request in
            let loop = OuterLoop(run: self, request: request, progress: nil)
            let gap = try loop.moments(theta)
            let jac = jacobian && gap.allSatisfy({ $0.isFinite }) ? try loop.jacobian(theta, gap).jacobian : nil
            return ProbeResult(gap: gap, jacobian: jac)
        }
    }

    // MARK: - The outer loop (root)

    /// Run (or continue) the calibration. Collective; returns the same outcome on every rank.
    public func run(resuming: CalibrationProgress?) throws -> CalibrationOutcome {
        let driver = CollectiveDriver<Command>(communicator: communicator)
        return try driver.run(serve: { try self.serve($0) }) { request in
            try OuterLoop(run: self, request: request, progress: resuming).run()
        }
    }
}

/// The root's side of `CalibrationRun.run`: the hybrid method on Θ, checkpoints, stops.
final class OuterLoop {
    let calibration: CalibrationRun
    let request: (CalibrationRun.Command) throws -> CalibrationRun.Reply
    var progress: CalibrationProgress
    let started = Date()
    let elapsedBefore: Double
    var lastCheckpoint = Date()
    var lastStep = 0.0

    init(run: CalibrationRun, request: @escaping (CalibrationRun.Command) throws -> CalibrationRun.Reply,
         progress: CalibrationProgress?) {
        self.calibration = run; self.request = request
        self.progress = progress ?? CalibrationProgress()
        elapsedBefore = self.progress.elapsed
    }

    var problem: CalibrationProblem { calibration.problem }
    var elapsed: Double { elapsedBefore + Date().timeIntervalSince(started) }
    var log: Logger { calibration.log }

    func checkpoint(phase: String) throws {
        progress.sequence += 1
        progress.elapsed = elapsed
        progress.phase = phase
        progress.last = calibration.last
        let t0 = Date()
        _ = try request(.checkpoint(progress))
        lastCheckpoint = Date()
        log(String(format: "  checkpoint %d (%@) written in %.3f s", progress.sequence, phase, lastCheckpoint.timeIntervalSince(t0)))
    }

    /// F(Θ) = y(Θ) − y_data (NaN when the inner equilibrium failed).
    func moments(_ theta: [Double]) throws -> [Double] {
        guard case let .moments(evaluations, interrupted) = try request(.moments(theta: theta)) else {
            throw CalibrationError.internalState("moments reply")
        }
        // An interrupted evaluation is done again after the resume and counted then: the counts of a resumed
        // calibration are those of the uninterrupted one.
        if interrupted { throw StopRequested() }
        progress.worldEvaluations += evaluations
        let p = calibration.last!
        log(String(format: "  moments: max gap %.3e, inner equilibrium %@ (%d world evaluations), elapsed %.1f s",
                   normInf(p.gap), p.converged ? "solved" : "FAILED", evaluations, elapsed))
        return p.gap
    }

    /// The implicit-function-theorem Jacobian at Θ, columns spread over the groups, in batches of G (one
    /// per group); checkpoints between batches when due or on a stop.
    func jacobian(_ theta: [Double], _ f: [Double]) throws -> (jacobian: [Double], evaluations: Int) {
        let m = problem.countries, n = problem.parameterCount, width = m + n
        if progress.partial?.theta != theta {
            var refreshes = 0
            if calibration.last?.theta != theta || calibration.last?.converged != true {
                _ = try moments(theta)
                refreshes = 1
            }
            progress.partial = PartialJacobian(theta: theta, refreshes: refreshes)
        }
        guard let point = calibration.last, point.converged else {
            throw OuterFailure(reason: "the inner equilibrium could not be solved at the point of a Jacobian")
        }
        let jStart = Date()
        var pending = (0..<width).filter { !progress.partial!.done.contains($0) }
        let toDo = pending.count
        var evaluations = 0
        calibration.progress.begin()
        while !pending.isEmpty {
            let batch = Array(pending.prefix(calibration.groups))
            pending.removeFirst(batch.count)
            guard case let .columns(columns) = try request(.columns(indices: batch)) else {
                throw CalibrationError.internalState("columns reply")
            }
            for c in columns {
                progress.partial!.done.append(c.index)
                progress.partial!.columns.append(c.values)
                evaluations += c.evaluations
            }
            progress.worldEvaluations += columns.reduce(0) { $0 + $1.evaluations }
            calibration.faultPoint("jacobian-batch")
            if calibration.progress.due() {
                // The rate of this run's columns (a resumed Jacobian's earlier columns took no time here).
                let seconds = Date().timeIntervalSince(jStart), done = toDo - pending.count
                let rate = Double(done) / max(seconds, 1e-9)
                log(String(format: "  jacobian columns %d/%d, %.2f columns/s, about %.0f s left",
                           progress.partial!.done.count, width, rate, Double(pending.count) / rate))
            }
            let phase = "jacobian \(progress.partial!.done.count)/\(width) at iteration \(progress.outerIterations)"
            if StopSignal.agreed { throw StopRequested() }
            if Date().timeIntervalSince(lastCheckpoint) >= problem.checkpointEverySeconds && !pending.isEmpty {
                try checkpoint(phase: phase)
            }
        }
        // Assemble the blocks (columns in index order) and eliminate the inner unknowns.
        let partial = progress.partial!
        var column = [[Double]](repeating: [], count: width)
        for (k, c) in zip(partial.done, partial.columns) { column[k] = c }
        // Fx (m × m), FΘ (m × n), yx (n × m), yΘ (n × n), row-major.
        var fx = [Double](repeating: 0, count: m * m), fTheta = [Double](repeating: 0, count: m * n)
        var yx = [Double](repeating: 0, count: n * m), yTheta = [Double](repeating: 0, count: n * n)
        for k in 0..<width {
            for i in 0..<m {
                if k < m { fx[i * m + k] = column[k][i] } else { fTheta[i * n + (k - m)] = column[k][i] }
            }
            for i in 0..<n {
                if k < m { yx[i * m + k] = column[k][m + i] } else { yTheta[i * n + (k - m)] = column[k][m + i] }
            }
        }
        var jac = yTheta
        if let z = linearSolve(fx, fTheta, n: m, columns: n) {      // Z = Fx⁻¹ FΘ
            for i in 0..<n { for j in 0..<n {
                var s = 0.0
                for k in 0..<m { s += yx[i * m + k] * z[k * n + j] }
                jac[i * n + j] -= s
            } }
        } else {
            throw OuterFailure(reason: "the inner block ∂F/∂x of the Jacobian is singular")
        }
        guard jac.allSatisfy({ $0.isFinite }) else {
            throw OuterFailure(reason: "the Jacobian of the moments is not finite (parameters far outside the data's range?)")
        }
        progress.jacobians += 1
        progress.partial = nil
        log(String(format: "  jacobian %d: %d columns on %d group(s), %d world evaluations, %.1f s",
                   progress.jacobians, width, calibration.groups, evaluations, Date().timeIntervalSince(jStart)))
        return (jac, evaluations + partial.refreshes)
    }

    func run() throws -> CalibrationOutcome {
        // The finder's own difference step is never used: its Jacobians are the implicit-function ones
        // (`jacobian`), whose columns step by `calibration.jacobian_step` (`differenceStep`).
        var finder = HybridRootFinder(tolerance: problem.tolerance, maxIterations: problem.maxIterations)
        finder.probeNoise = true
        // Stop at every iteration boundary: the returned state is checkpointed, then resumed exactly.
        let boundary: (IterationRecord) -> MonitorAction = { [unowned self] rec in
            if rec.note == nil { lastStep = rec.stepNorm }
            return .stop
        }
        if progress.state == nil && progress.sequence == 0 { try checkpoint(phase: "start") }
        // A finished calibration resumed: nothing left to do but report it again.
        if let s = progress.state, s.pending == .none, normInf(s.f) <= problem.tolerance {
            try ensureResult(at: s.x)
            return CalibrationOutcome(status: .converged, reason: .residualTolerance, theta: s.x, progress: progress)
        }
        while true {
            let result: RootFindingResult
            do {
                if let state = progress.state {
                    result = try finder.resume(from: state, jacobian: jacobian, monitor: boundary, residual: moments)
                } else {
                    result = try finder.solve(from: problem.theta0, jacobian: jacobian, monitor: boundary, residual: moments)
                }
            } catch is StopRequested {
                return try stopped()
            } catch let failure as OuterFailure {
                // The last iteration boundary's state is kept (and checkpointed): report from there.
                log("outer iteration cannot continue: \(failure.reason)")
                let x = progress.state?.x ?? problem.theta0
                try? ensureResult(at: x)
                progress.partial = nil
                try checkpoint(phase: "ended: \(failure.reason)")
                return CalibrationOutcome(status: .notConverged, reason: .notMakingProgress, theta: x, progress: progress)
            }
            if let state = result.state { progress.state = state }
            progress.outerIterations = result.iterations
            let gap = normInf(result.residual)
            if gap.isFinite && (result.reason == .interrupted || progress.history.last?.iteration != result.iterations) {
                progress.history.append(HistoryEntry(iteration: result.iterations, maxGap: gap, step: lastStep,
                                                     worldEvaluations: progress.worldEvaluations, elapsed: elapsed))
                log(String(format: "outer %3d  max gap %.3e  step %.3e  jacobians %d  world evaluations %d  elapsed %.1f s",
                           result.iterations, gap, lastStep, progress.jacobians, progress.worldEvaluations, elapsed))
            }
            calibration.faultPoint("boundary")
            if result.reason == .interrupted {
                try checkpoint(phase: "iteration \(result.iterations)")
                if StopSignal.agreed { return try stopped(checkpointed: true) }
                continue
            }
            // Finished: make sure the reported point is the last moment evaluation (outputs read it).
            try? ensureResult(at: result.x)
            try checkpoint(phase: result.converged ? "converged" : "ended: \(result.reason.message)")
            return CalibrationOutcome(status: result.converged ? .converged : .notConverged, reason: result.reason,
                                      theta: result.x, progress: progress)
        }
    }

    /// The outputs describe Θ: its moment evaluation, done again only when the last one was elsewhere; after
    /// a resume at Θ itself the result is rebuilt from the checkpointed x* (the same bits).
    func ensureResult(at theta: [Double]) throws {
        if calibration.last?.theta != theta {
            _ = try moments(theta)
        } else if calibration.lastResult == nil {
            if calibration.last?.converged == true { _ = try request(.report) } else { _ = try moments(theta) }
        }
    }

    /// A stop agreed by every rank: checkpoint where the loop is (the last iteration boundary's state, the
    /// last completed moment evaluation and the Jacobian columns done so far), then end.
    func stopped(checkpointed: Bool = false) throws -> CalibrationOutcome {
        if !checkpointed {
            let inJacobian = progress.partial.map { " in jacobian \($0.done.count)/\(problem.countries + problem.parameterCount)" } ?? ""
            try checkpoint(phase: "stopped at iteration \(progress.outerIterations)\(inJacobian)")
        }
        progress.elapsed = elapsed
        log("stop requested (SIGTERM/SIGUSR1): stopped at a safe point after a checkpoint")
        return CalibrationOutcome(status: .stopped, reason: .interrupted,
                                  theta: progress.state?.x ?? problem.theta0, progress: progress)
    }
}

/// What `CalibrationRun.probe` returns on every rank.
public struct ProbeResult: Sendable, Packable {
    public var gap: [Double]
    public var jacobian: [Double]?
    public func pack(into m: inout MessageWriter) { m.write(gap); m.write(jacobian) }
    public init(unpacking m: inout MessageReader) throws { gap = try m.read(); jacobian = try m.read() }
    init(gap: [Double], jacobian: [Double]?) { self.gap = gap; self.jacobian = jacobian }
}

public enum CalibrationError: Error, CustomStringConvertible {
    case internalState(String)
    public var description: String {
        switch self {
        case .internalState(let what): return "calibration: inconsistent internal state (\(what))"
        }
    }
}
