import Analysis
import Calibration
import Foundation
import Gravity
import HATConfig
import Output
import Parallel
import Runs
import Solvers

/// Calibrations at sweep points, on one communicator (a rank group): the calibration (resumed from its
/// checkpoints when it has some), then the household statistics of the analysed country.
struct SweepEvaluator {
    let spec: SweepSpecification
    let communicator: Communicator
    let log: Logger

    /// What a calibration at one point gives.
    struct Measurement {
        var status: PointRecord.Status
        var reason: String
        var values: [String: Double] = [:]
        var psiSlope: Double = .nan
    }

    /// A finished calibration folder to start from (its parameters.csv and wage-guess.csv), or the base.
    enum Start: Equatable {
        case base
        case folder(String)
    }

    /// The `--set` overrides of a calibration at (σε, γ, ψ̃) started from `start`.
    func overrides(sigmaEps: Double, gamma: Double, psi: Double?, start: Start) -> [String] {
        var o = spec.overrides
        o.append("model.sigma_eps=\(sigmaEps)")
        o.append("model.gamma=\(gamma)")
        if let psi { o.append("model.psi_slope=\(psi)") }
        if case .folder(let dir) = start {
            // A finished calibration is the start: its parameters and wages, without the base's shifts.
            o += ["calibration.start=\(dir)/parameters.csv", "equilibrium.initial_guess=\(dir)/wage-guess.csv",
                  "calibration.shift_log_tfp=0", "calibration.shift_theta_m=0", "calibration.shift_distance=0",
                  "calibration.shift_dummies=[0, 0, 0, 0]"]
        }
        return o
    }

    /// The configuration of one calibration (a `ConfigError` is bad parameters at this point).
    func configuration(sigmaEps: Double, gamma: Double, psi: Double?, start: Start, folder: String) throws -> RunConfiguration {
        var cfg = try ConfigurationLoader.load(path: spec.base, overrides: overrides(sigmaEps: sigmaEps, gamma: gamma, psi: psi, start: start))
        cfg.outputDirectory = folder
        return cfg
    }

    /// One calibration into `folder` and the statistics at its result. Collective on the communicator.
    /// `elasticities` false: only the cross-section (home shares), for the ψ̃ iterations.
    func measure(sigmaEps: Double, gamma: Double, psi: Double?, start: Start, folder: String,
                 elasticities: Bool) throws -> Measurement {
        let started = Date()
        let cfg: RunConfiguration
        do {
            cfg = try configuration(sigmaEps: sigmaEps, gamma: gamma, psi: psi, start: start, folder: folder)
        } catch let e as ConfigError {
            return Measurement(status: .failed, reason: e.description)
        }
        guard let country = cfg.world.countryIndex(spec.country) else {
            return Measurement(status: .failed, reason: "\(spec.path): sweep.country: \"\(spec.country)\" is not a country of the base world")
        }
        let loaded = LoadedConfiguration(configuration: cfg, folderFile: spec.path, folderKey: "sweep.out")
        var job = CalibrationJob(loaded: loaded, resume: .ifCheckpointed, groups: 1, communicator: communicator, log: log)
        job.resumeHint = "run the same hat sweep command again to go on"
        let finished: CalibrationJob.Finished
        do {
            finished = try job.run(started: started)
        } catch let e as HatFailure where e.code == HatExit.badInput {
            // Bad parameters at this point (infeasible, too large): a failed row. I/O problems and the like
            // are not the point's fault: they end the run without a row, and the point is retried later.
            return Measurement(status: .failed, reason: e.message)
        } catch let e as ConfigError {
            return Measurement(status: .failed, reason: e.description)
        } catch let e as DataError {
            return Measurement(status: .failed, reason: e.description)
        }
        var m = Measurement(status: .converged, reason: "", psiSlope: cfg.model.psiSlope)
        let outcome = finished.outcome, run = finished.run
        m.values["outer_iterations"] = Double(outcome.progress.outerIterations)
        if let last = run.last { m.values["max_abs_gap"] = last.gap.isEmpty ? .nan : normInf(last.gap) }
        switch outcome.status {
        case .stopped: return Measurement(status: .stopped, reason: "stopped by a signal at a checkpoint")
        case .notConverged: return Measurement(status: .notConverged, reason: "calibration: \(outcome.reason.message)", values: m.values)
        case .converged: break
        }
        guard let result = run.lastResult else { return Measurement(status: .failed, reason: "calibration gave no equilibrium") }
        m.values["beta"] = result.prices.beta
        var settings = AnalysisSettings(country: country)
        settings.elasticities = elasticities
        settings.mpc = false
        settings.crossSection = true
        let analysis: HouseholdAnalysis
        do {
            analysis = try HouseholdAnalysis.run(settings, evaluator: run.evaluator, prices: result.prices)
        } catch {
            return Measurement(status: .failed, reason: "household statistics: \(error)")
        }
        guard let cs = analysis.crossSection else { return Measurement(status: .failed, reason: "no cross-section") }
        let groups = cs.incomeGroups(low: 0.2, high: 0.8)
        m.values["home_share_poor"] = 1 - groups.poor.importShare
        m.values["home_share_median"] = 1 - groups.middle.importShare
        m.values["home_share_rich"] = 1 - groups.rich.importShare
        m.values["home_share_gap"] = groups.poor.importShare - groups.rich.importShare
        let quintiles = cs.quintiles()
        for (q, g) in quintiles.enumerated() { m.values["quintile_import_share_\(q + 1)"] = g.importShare }
        if elasticities {
            m.values["elasticity_poor"] = groups.poor.elasticity ?? .nan
            m.values["elasticity_median"] = groups.middle.elasticity ?? .nan
            m.values["elasticity_rich"] = groups.rich.elasticity ?? .nan
            m.values["aggregate_elasticity"] = analysis.aggregate ?? .nan
            for (q, g) in quintiles.enumerated() { m.values["quintile_elasticity_\(q + 1)"] = g.elasticity ?? .nan }
            let dp = m.values["elasticity_poor"]! - spec.targets.poor, dm = m.values["elasticity_median"]! - spec.targets.median
            m.values["target_distance"] = (dp * dp + dm * dm).squareRoot()
            if !(m.values["elasticity_poor"]!.isFinite && m.values["elasticity_median"]!.isFinite) {
                return Measurement(status: .failed, reason: "household elasticities are not finite", values: m.values)
            }
        }
        return m
    }

    /// A point: the calibration at (σε, γ) — with ψ̃ found by a secant on the home share gap when the
    /// specification asks for it — then the elasticities. Resumable: the ψ̃ history (`psi.json`) and each
    /// calibration's checkpoints are on disk, and the same history gives the same next ψ̃.
    func evaluate(index: Int, sigmaEps: Double, gamma: Double, folder: String, start: Start, startPsi: Double?,
                  relativeTo root: String) throws -> PointRecord {
        let started = Date()
        var record = PointRecord(index: index, sigmaEps: sigmaEps, gamma: gamma, status: .failed, reason: "")
        record.startFrom = start.description(relativeTo: root)
        func finish(_ m: Measurement, calibration: String, psiIterations: Int?) -> PointRecord {
            var r = record
            r.status = m.status; r.reason = m.reason; r.values = m.values; r.psiSlope = m.psiSlope
            if let psiIterations { r.values["psi_iterations"] = Double(psiIterations) }
            r.values["wall_seconds"] = Date().timeIntervalSince(started)
            r.calibration = relative(calibration, to: root)
            return r
        }
        guard spec.calibratePsi else {
            let dir = folder + "/calibration"
            let m = try measure(sigmaEps: sigmaEps, gamma: gamma, psi: nil, start: start, folder: dir, elasticities: true)
            return finish(m, calibration: dir, psiIterations: nil)
        }
        // ψ̃: a secant on g(ψ̃) = (home share of the rich − of the poor) − target, every g a calibration.
        let historyPath = folder + "/psi.json"
        // Read on the root and shared: every rank must take the same replay-or-compute branch.
        // (A typed broadcast: the other ranks do not know the history's length.)
        let flat: [Double] = try communicator.broadcast(communicator.isRoot ? readPsiHistory(historyPath).flatMap { [$0.psi, $0.gap] } : nil)
        var history = stride(from: 0, to: flat.count - 1, by: 2).map { (psi: flat[$0], gap: flat[$0 + 1]) }
        var psi0 = startPsi
        if psi0 == nil {
            do {
                psi0 = try configuration(sigmaEps: sigmaEps, gamma: gamma, psi: nil, start: .base, folder: folder).model.psiSlope
            } catch let e as ConfigError {
                return finish(Measurement(status: .failed, reason: e.description), calibration: folder, psiIterations: 0)
            }
        }
        let settings = spec.psi, target = spec.targets.homeShareGap
        // The second calibration is the forward-difference point of ψ̃ (`psi.step`, absolute); the first
        // secant slope is then that forward quotient over the step taken, the later ones secants.
        let firstStep = DifferenceStep(.absolute(settings.step), backward: .none, denominator: .taken)
        for n in 0..<settings.maxIterations {
            let psi: Double
            if n == 0 {
                psi = psi0!
            } else if n == 1 {
                psi = firstStep.forwardPoint(0, at: [history[0].psi])[0]
            } else {
                let (a, b) = (history[n - 2], history[n - 1])
                let slope = (b.gap - a.gap) / (b.psi - a.psi)
                guard slope.isFinite, slope != 0 else {
                    return finish(Measurement(status: .notConverged, reason: "psi: the home share gap does not move with psi_slope (secant slope \(slope))"),
                                  calibration: folder + "/psi-\(n - 1)", psiIterations: n)
                }
                var delta = -(b.gap - target) / slope
                delta = max(-0.5, min(0.5, delta))         // a secant step of at most 0.5 in ψ̃
                psi = b.psi + delta
            }
            let dir = folder + "/psi-\(n)"
            let previous: Start = n == 0 ? start : .folder(folder + "/psi-\(n - 1)")
            let m: Measurement
            if n < history.count, history[n].psi == psi {
                m = Measurement(status: .converged, reason: "", values: ["home_share_gap": history[n].gap], psiSlope: psi)
            } else {
                history.removeSubrange(min(n, history.count)...)
                let measured = try measure(sigmaEps: sigmaEps, gamma: gamma, psi: psi, start: previous, folder: dir, elasticities: false)
                guard measured.status == .converged, let gap = measured.values["home_share_gap"], gap.isFinite else {
                    var failed = measured
                    if failed.status == .converged { failed = Measurement(status: .failed, reason: "psi: home share gap is not finite") }
                    return finish(failed, calibration: dir, psiIterations: n + 1)
                }
                m = measured
                history.append((psi, gap))
                var problem = ""
                if communicator.isRoot {
                    do { try writePsiHistory(history, to: historyPath) } catch { problem = "\(error)" }
                }
                try communicator.broadcast(&problem)
                if !problem.isEmpty { throw HatFailure("writing \(historyPath): \(problem)", code: HatExit.io) }
            }
            if abs(m.values["home_share_gap"]! - target) <= settings.tolerance {
                // The statistics of the final calibration, with the elasticities (it resumes finished and reports).
                var final = try measure(sigmaEps: sigmaEps, gamma: gamma, psi: psi, start: previous, folder: dir, elasticities: true)
                final.psiSlope = psi
                return finish(final, calibration: dir, psiIterations: n + 1)
            }
        }
        let best = history.min { abs($0.gap - target) < abs($1.gap - target) }
        var m = Measurement(status: .notConverged,
                            reason: "psi: home share gap still \(best.map { $0.gap - target } ?? .nan) from its target after \(settings.maxIterations) calibrations (psi.max_iterations)")
        m.psiSlope = history.last?.psi ?? .nan
        return finish(m, calibration: folder + "/psi-\(settings.maxIterations - 1)", psiIterations: settings.maxIterations)
    }

    func readPsiHistory(_ path: String) -> [(psi: Double, gap: Double)] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
              let json = try? JSON.parse(text), let rows = json["history"]?.array else { return [] }
        return rows.compactMap { row in
            guard let p = row["psi_slope"]?.double, let g = row["home_share_gap"]?.double else { return nil }
            return (p, g)
        }
    }

    func writePsiHistory(_ history: [(psi: Double, gap: Double)], to path: String) throws {
        let json = JSON.object([("history", .array(history.map {
            .object([("psi_slope", .number($0.psi)), ("home_share_gap", .number($0.gap))])
        }))])
        try writeAtomically(json.rendered() + "\n", to: path)
    }
}

extension SweepEvaluator.Start {
    func description(relativeTo root: String) -> String {
        switch self {
        case .base: return "base"
        case .folder(let dir): return relative(dir, to: root)
        }
    }
}

/// `path` relative to `root` when it lies inside it.
func relative(_ path: String, to root: String) -> String {
    let prefix = root.hasSuffix("/") ? root : root + "/"
    return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
}
