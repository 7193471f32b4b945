import Foundation
import HATConfig
import Output
import Parallel
import Runs
import Solvers

/// `hat sweep SPEC --target`: the (σε, γ) at which the poor and median households' elasticities equal the
/// targets (what the paper did by hand). Newton's method on r(σε, γ) = (θ_poor − t_poor, θ_median − t_median)
/// with a forward-difference Jacobian (steps `target.relative_step` · |x|, `DifferenceStep`) at every iterate, steps capped at
/// 25 % of x and halved until |r| falls. Every r is an evaluation laid out as a point in OUT/target/eval-NNNN,
/// warm-started from the current iterate's calibration and checkpointed like a point; a rerun replays the
/// finished evaluations (the same results give the same next iterate) and resumes the unfinished one.
extension SweepRun {
    public func target() throws -> Int32 {
        let folder = root + "/target"
        var started = [Double](repeating: .nan, count: 3)     // σε, γ, ψ̃ of the start (root chooses, once)
        var from = ""
        var refusal = ""
        if communicator.isRoot {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // The evaluations are replayed on a rerun: only with the settings that made them.
            let settings = JSON.object([
                ("targets", .array([.number(spec.targets.poor), .number(spec.targets.median)])),
                ("tolerance", .number(spec.target.tolerance)), ("max_iterations", .integer(spec.target.maxIterations)),
                ("relative_step", .number(spec.target.relativeStep)),
            ]).rendered() + "\n"
            let path = folder + "/settings.json"
            if let existing = try? String(contentsOfFile: path, encoding: .utf8), existing != settings {
                refusal = ConfigError(file: spec.path, key: "target", problem: "\(folder) holds a --target run with other [targets] or [target] settings; remove that folder or use another --out").description
            } else {
                try? writeAtomically(settings, to: path)
                (started, from) = targetStart(folder: folder)
            }
        }
        try communicator.broadcast(&refusal)
        if !refusal.isEmpty { throw HatFailure(refusal, code: HatExit.badInput) }
        try communicator.broadcast(&started)
        try communicator.broadcast(&from)
        let settings = spec.target, targets = spec.targets
        log(String(format: "target: poor %.4f, median %.4f from sigma_eps %.6g, gamma %.6g (%@); tolerance %.1e",
                   targets.poor, targets.median, started[0], started[1], from, settings.tolerance))

        var evaluations = 0
        var history: [JSON] = []
        /// One evaluation, warm-started from `start` (a calibration folder relative to the sweep folder, or "base").
        func evaluate(_ x: [Double], start: String, psi: Double?, role: String) throws -> PointRecord {
            let dir = folder + String(format: "/eval-%04d", evaluations)
            evaluations += 1
            let r = try self.evaluate(index: evaluations - 1, sigmaEps: x[0], gamma: x[1], folder: dir, on: communicator, log: log,
                                    label: "evaluation") {
                start == "base" ? nil : (start, psi)
            }
            history.append(.object([("evaluation", .integer(evaluations - 1)), ("role", .string(role)),
                                    ("sigma_eps", .number(x[0])), ("gamma", .number(x[1])), ("status", .string(r.status.rawValue)),
                                    ("elasticity_poor", .number(r["elasticity_poor"])), ("elasticity_median", .number(r["elasticity_median"]))]))
            return r
        }
        func residual(_ r: PointRecord) -> [Double]? {
            guard r.status == .converged else { return nil }
            let v = [r["elasticity_poor"] - targets.poor, r["elasticity_median"] - targets.median]
            return v.allSatisfy { $0.isFinite } ? v : nil
        }
        func norm(_ v: [Double]) -> Double { max(abs(v[0]), abs(v[1])) }
        func psiOf(_ r: PointRecord) -> Double? { spec.calibratePsi && r.psiSlope.isFinite ? r.psiSlope : nil }

        // The step of the Jacobian's columns: `target.relative_step` · |x_j|, the quotient over that nominal
        // step (as the target always computed it, so that replayed evaluations give the same iterates).
        let step = DifferenceStep(.relative(settings.relativeStep, floor: 0), backward: .none, denominator: .nominal)
        var x = [started[0], started[1]]
        var center = try evaluate(x, start: from, psi: started[2].isFinite ? started[2] : nil, role: "start")
        var status = "not-converged", reason = ""
        var iterations = 0
        func finish() throws -> Int32 {
            if center.status == .stopped { log("target stopped by a signal; run it again to go on"); return HatExit.stopped }
            let r = residual(center)
            var fields: [(String, JSON)] = [
                ("status", .string(status)), ("reason", .string(reason)),
                ("sigma_eps", .number(x[0])), ("gamma", .number(x[1])), ("psi_slope", .number(center.psiSlope)),
                ("elasticity_poor", .number(center["elasticity_poor"])), ("elasticity_median", .number(center["elasticity_median"])),
                ("elasticity_rich", .number(center["elasticity_rich"])), ("home_share_gap", .number(center["home_share_gap"])),
                ("targets", .array([.number(targets.poor), .number(targets.median)])),
                ("max_abs_residual", .number(r.map(norm) ?? .nan)), ("tolerance", .number(settings.tolerance)),
                ("iterations", .integer(iterations)), ("evaluations", .integer(evaluations)),
                ("calibration", .string(center.calibration)), ("start", .string(from)),
            ]
            fields.append(("history", .array(history)))
            if communicator.isRoot {
                do { try writeAtomically((JSON.object(fields).droppingNonFinite() ?? .null).rendered() + "\n", to: folder + "/target.json") } catch {
                    throw HatFailure("writing \(folder)/target.json: \(error)", code: HatExit.io)
                }
            }
            log(String(format: "target %@: sigma_eps %.10g, gamma %.10g: elasticities poor %.6f, median %.6f after %d iterations, %d evaluations%@; wrote %@/target.json",
                       status, x[0], x[1], center["elasticity_poor"], center["elasticity_median"], iterations, evaluations,
                       reason.isEmpty ? "" : " (\(reason))", folder))
            return status == "converged" ? 0 : HatExit.notConverged
        }
        guard var r = residual(center) else {
            reason = "the evaluation at the start did not converge: \(center.reason)"
            return try finish()
        }
        while true {
            if norm(r) <= settings.tolerance { status = "converged"; return try finish() }
            guard iterations < settings.maxIterations else {
                reason = "target.max_iterations (\(settings.maxIterations)) reached"
                return try finish()
            }
            iterations += 1
            // Forward-difference Jacobian, each column warm-started from the current iterate. A failed column
            // ends the target (no backward difference).
            var jacobian = [[Double]](repeating: [0, 0], count: 2)
            for j in 0..<2 {
                var point = x, column: PointRecord?
                let d = try step.column(j, at: x, residual: r) { xj in
                    point = xj
                    column = try evaluate(xj, start: center.calibration, psi: psiOf(center), role: "jacobian \(j)")
                    return residual(column!) ?? [.nan, .nan]
                }
                if column!.status == .stopped { center = column!; return try finish() }
                guard d.finite else {
                    reason = "the Jacobian evaluation at sigma_eps \(point[0]), gamma \(point[1]) did not converge: \(column!.reason)"
                    return try finish()
                }
                for i in 0..<2 { jacobian[i][j] = d.values[i] }
            }
            let det = jacobian[0][0] * jacobian[1][1] - jacobian[0][1] * jacobian[1][0]
            guard det.isFinite, det != 0 else { reason = "singular Jacobian (the elasticities do not move with sigma_eps and gamma)"; return try finish() }
            var dx = [-(jacobian[1][1] * r[0] - jacobian[0][1] * r[1]) / det, -(-jacobian[1][0] * r[0] + jacobian[0][0] * r[1]) / det]
            let scale = max(abs(dx[0]) / (0.25 * abs(x[0])), abs(dx[1]) / (0.25 * abs(x[1])), 1)
            dx = dx.map { $0 / scale }
            var accepted = false
            var t = 1.0
            for _ in 0..<6 {
                let trial = [x[0] + t * dx[0], x[1] + t * dx[1]]
                let next = try evaluate(trial, start: center.calibration, psi: psiOf(center), role: "step \(t)")
                if next.status == .stopped { center = next; return try finish() }
                if let rn = residual(next), norm(rn) < norm(r) {
                    x = trial; center = next; r = rn; accepted = true
                    break
                }
                t /= 2
            }
            guard accepted else { reason = "no step decreased the residual (6 halvings)"; return try finish() }
            log(String(format: "target iteration %d: sigma_eps %.10g, gamma %.10g, max-abs residual %.3e", iterations, x[0], x[1], norm(r)))
        }
    }

    /// The start of --target (root), kept in target/start.json: the converged sweep point closest to the
    /// targets, else the first point from the base.
    func targetStart(folder: String) -> ([Double], String) {
        let path = folder + "/start.json"
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let json = try? JSON.parse(text),
           let s = json["sigma_eps"]?.double, let g = json["gamma"]?.double, let from = json["from"]?.string {
            return ([s, g, json["psi_slope"]?.double ?? .nan], from)
        }
        let records = spec.points.indices.compactMap { PointRecord.read(SweepRun.pointFolder(root, $0) + "/point.json") }
        let table = SweepTable(records: records, targets: spec.targets)
        var chosen: ([Double], String)
        if let best = table.best, !best.calibration.isEmpty {
            chosen = ([best.sigmaEps, best.gamma, spec.calibratePsi ? best.psiSlope : .nan], best.calibration)
        } else {
            chosen = ([spec.points[0].sigmaEps, spec.points[0].gamma, .nan], "base")
        }
        var fields: [(String, JSON)] = [("sigma_eps", .number(chosen.0[0])), ("gamma", .number(chosen.0[1])), ("from", .string(chosen.1))]
        if chosen.0[2].isFinite { fields.append(("psi_slope", .number(chosen.0[2]))) }
        try? writeAtomically(JSON.object(fields).rendered() + "\n", to: path)
        return chosen
    }
}
