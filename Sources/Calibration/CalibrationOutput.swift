import Equilibrium
import Checksum
import Foundation
import HATConfig
import Output
import Solvers
import Storage

/// The outputs of `hat calibrate` (CONTRACT.md "Calibration"), apart from `calibration.h5`'s solution part,
/// which is `writeSolution`'s.
public enum CalibrationOutput {
    public static let names = ["calibration.json", "calibration.h5", "parameters.csv", "wage-guess.csv"]

    /// The author's one-column format: header `guess`, then one value per row (full precision).
    public static func guessFile(_ values: [Double]) -> String {
        "guess\n" + values.map { "\($0)" }.joined(separator: "\n") + "\n"
    }

    /// 18 mean-one wages (the last country's is implied) then β: feeds `[equilibrium] initial_guess`.
    public static func wageGuess(result: EquilibriumResult) -> [Double] {
        Array(result.prices.wages.dropLast()) + [result.prices.beta]
    }

    public static func json(config: RunConfiguration, run: CalibrationRun, outcome: CalibrationOutcome,
                            resumedFrom: String?, wallSeconds: Double, runID: String, configurationHash: String) -> JSON {
        let problem = run.problem
        let last = run.last
        let result = run.lastResult
        let data = problem.dataWorld.dataFit.moments.calibrationVector
        let gap = last?.gap ?? []
        let model = gap.isEmpty || !(last?.converged ?? false) ? [] : zip(gap, data).map { $0 + $1 }
        let p = outcome.progress
        let status: String
        switch outcome.status {
        case .converged: status = "converged"
        case .notConverged: status = "not-converged"
        case .stopped: status = "stopped"
        }
        var fields: [(String, JSON)] = [
            ("status", .string(status)),
            ("reason", .string(outcome.reason.message)),
            ("parameters", .numbers(outcome.theta)),
            ("parameter_names", .array(problem.parameterNames.map { JSON.string($0) })),
            ("moment_names", .array(problem.parameterNames.map { JSON.string(momentName($0)) })),
            ("moments_model", .numbers(model)),
            ("moments_data", .numbers(data)),
            ("max_abs_gap", last?.converged == true ? .number(normInf(gap)) : .null),
            ("tolerance", .number(problem.tolerance)),
            ("beta", result.map { JSON.number($0.prices.beta) } ?? .null),
            ("wages", result.map { JSON.numbers($0.prices.wages) } ?? .null),
            ("R", .number(problem.equilibrium.closure.parameter.value)),
            ("countries", .array(problem.dataWorld.data.countries.map { JSON.string($0) })),
            ("inner_residual_max", result.map { JSON.number($0.residualMax) } ?? .null),
            ("outer_iterations", .integer(p.outerIterations)),
            ("jacobians", .integer(p.jacobians)),
            ("world_evaluations", .integer(p.worldEvaluations)),
            ("history", .array(p.history.map { h in
                JSON.object([("iteration", .integer(h.iteration)), ("max_abs_gap", .number(h.maxGap)),
                             ("step", .number(h.step)), ("world_evaluations", .integer(h.worldEvaluations)),
                             ("elapsed_seconds", .number(h.elapsed))])
            })),
            ("ranks", .integer(run.communicator.size)),
            ("groups", .integer(run.groups)),
            ("resumed_from", resumedFrom.map { JSON.string($0) } ?? .null),
            ("checkpoint", .string(CheckpointStore.name(sequence: p.sequence))),
            ("configuration_hash", .string(configurationHash)),
            ("elapsed_seconds", .number(p.elapsed)),
            ("wall_seconds", .number(wallSeconds)),
            ("run_id", .string(runID)),
            ("version", .string(hatVersion)),
            ("run", runJSON(config: config, runID: runID, ranks: run.communicator.size)),
        ]
        if outcome.status != .converged {
            fields.insert(("reason_detail", .string(outcome.status == .stopped
                ? "stopped by SIGTERM/SIGUSR1 after a checkpoint; continue with --resume"
                : "the outer solve ended before the moment gap reached calibration.tolerance; continue with --resume (raise calibration.max_iterations) or start closer")), at: 2)
        }
        return .object(fields)
    }

    /// The moment matched by parameter `name`: S for a log TFP, θm for an importer effect, the regression
    /// coefficient for a bin or dummy.
    static func momentName(_ name: String) -> String {
        if name.hasPrefix("log_tfp_") { return "S_" + name.dropFirst("log_tfp_".count) }
        return name
    }

    /// The calibration datasets of calibration.h5 (beside the solution written by `writeSolution`).
    public static func writeHistory(_ file: HDF5File, run: CalibrationRun, outcome: CalibrationOutcome,
                                    configurationHash: String) throws {
        let p = outcome.progress
        try file.setAttribute("/", "configuration_hash", configurationHash)
        try file.setAttribute("/", "calibration_status", outcome.status == .converged ? "converged" : "not-converged")
        try file.setAttribute("/", "parameter_names", run.problem.parameterNames.joined(separator: ","))
        try file.setAttribute("/", "outer_iterations", "\(p.outerIterations)")
        try file.setAttribute("/", "elapsed_seconds", String(format: "%.3f", p.elapsed))
        try file.writeShared("calibration/parameters", shape: [outcome.theta.count], values: outcome.theta,
                             attributes: ["description": "calibrated parameter vector (46): log TFP, theta_m, distance bins, dummies"])
        try file.writeShared("calibration/moments_data", shape: [run.problem.parameterCount],
                             values: run.problem.dataWorld.dataFit.moments.calibrationVector,
                             attributes: ["description": "the data's 46 gravity moments"])
        if let last = run.last, last.converged {
            try file.writeShared("calibration/gap", shape: [last.gap.count], values: last.gap,
                                 attributes: ["description": "model minus data moments at the parameters"])
        }
        if !p.history.isEmpty {
            try file.writeShared("calibration/history", shape: [p.history.count, HistoryEntry.width],
                                 values: p.history.flatMap(\.values),
                                 attributes: ["description": "per outer iteration: iteration, max-abs moment gap, scaled step, world evaluations so far, elapsed seconds"])
        }
    }
}
