import ArgumentParser
import Calibration
import Checksum
import Foundation
import Runs
import HATConfig
import Output
import Solvers
import Storage

/// `hat inspect FILE`: what a file is and where it stands, without h5py.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise a solution, checkpoint, calibration or sweep file (or an output folder's files).",
        discussion: """
        Prints what the file is, its status, iteration, residual or moment gap, parameters, elapsed time and
        configuration hash. A checkpoint is verified against its checksums. Exit 2 on a file that is none of
        these, 4 on a checkpoint that fails verification.
        """)

    @Argument(help: "solution.h5, calibration.h5, counterfactual.h5, sweep.h5, a calibration or solve checkpoint, or an output folder.")
    var file: String

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDir) else {
            fail("\(file): no such file", code: HatExit.badInput)
        }
        Inspect.warnOfUnfinishedCommit(in: isDir.boolValue ? file : (file as NSString).deletingLastPathComponent)
        if isDir.boolValue {
            let candidates = ["solution.h5", "calibration.h5", "counterfactual.h5", "sweep.h5"].map { file + "/" + $0 }
                + CheckpointStore.candidates(in: file + "/checkpoints")
            let present = candidates.filter { FileManager.default.fileExists(atPath: $0) }
            guard !present.isEmpty else { fail("\(file): no solution, calibration or checkpoint files in this folder", code: HatExit.badInput) }
            var worst: Int32 = 0
            for (k, path) in present.enumerated() {
                if k > 0 { print("") }
                worst = max(worst, describe(path))
            }
            Inspect.checkOutput()
            if worst != 0 { Foundation.exit(worst) }
            return
        }
        let code = describe(file)
        Inspect.checkOutput()
        if code != 0 { Foundation.exit(code) }
    }

    /// A run killed between the renames of its commit leaves the journal `.hat-commit`: the folder may then
    /// hold one file of the new run beside one of the old (the next hat run into the folder completes the
    /// commit). Inspecting it must say so rather than report the mixture as one result.
    static func warnOfUnfinishedCommit(in folder: String) {
        let journal = (folder.isEmpty ? "." : folder) + "/.hat-commit"
        var info = stat()
        guard lstat(journal, &info) == 0 else { return }
        let pending = ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { $0.split(separator: "\t").last.map(String.init) }
        let line = "warning: \(escapedForOneLine(folder)) has an unfinished commit (.hat-commit\(pending.isEmpty ? "" : ": " + pending.joined(separator: ", ") + " not all renamed")): its files may come from two runs; the next hat run into this folder completes it"
        print(line)
        Console.error(line)
    }

    /// A summary that did not reach standard output (closed, or a full device) is an I/O failure.
    static func checkOutput() {
        if !Console.flushOutput() { fail("cannot write the summary to standard output (closed or full)", code: HatExit.io) }
    }

    /// Print one file's summary; returns the exit code it deserves.
    func describe(_ path: String) -> Int32 {
        guard isRegularFile(path) else {
            reportError("\(path): not a regular file")
            return HatExit.badInput
        }
        guard let f = try? HDF5File.open(path) else {
            reportError("\(path): not an HDF5 file hat wrote (unreadable, truncated, or another format)")
            return HatExit.badInput
        }
        func attr(_ k: String) -> String? { try? f.attribute("/", k) }
        func line(_ label: String, _ value: String) { print(label.padding(toLength: 22, withPad: " ", startingAt: 0) + value) }
        func numbers(_ v: [Double], limit: Int = 6) -> String {
            v.prefix(limit).map { String(format: "%.10g", $0) }.joined(separator: ", ") + (v.count > limit ? ", ... (\(v.count))" : "")
        }
        // Calibration files carry the hash of the effective configuration (as calibration.json and the
        // checkpoints do); a solution file is identified by the hash of its configuration text.
        let hash = attr("configuration_hash").map { "\($0) (effective keys)" }
            ?? attr("configuration").map { "\(checksumHex(fnv1a64($0))) (configuration text)" } ?? "-"
        switch attr("kind") {
        case "hat sweep table"?:
            print("\(path): hat sweep table")
            let status = ((try? f.attribute("/sweep", "status")) ?? "").split(separator: ",").map(String.init)
            line("points", "\(status.count)")
            for s in ["converged", "not-converged", "failed", "missing"] {
                let n = status.filter { $0 == s }.count
                if n > 0 { line(s, "\(n)") }
            }
            if let best = try? f.attribute("/sweep", "best_index"), let k = Int(best),
               let sigma = try? f.read("sweep/sigma_eps"), let gamma = try? f.read("sweep/gamma"),
               let poor = try? f.read("sweep/elasticity_poor"), let median = try? f.read("sweep/elasticity_median"), k < sigma.count {
                line("closest to targets", String(format: "point %d: sigma_eps %.6g, gamma %.6g, elasticities %.4f / %.4f",
                                                  k, sigma[k], gamma[k], poor[k], median[k]))
            }
            return 0
        case checkpointKind?:
            print("\(path): hat calibration checkpoint")
            do {
                let h = try CheckpointStore.verify(path)
                let p = try CheckpointStore.readProgress(path)
                line("status", "valid (checksums verified)")
                line("phase", h.phase)
                line("sequence", "\(h.sequence)")
                line("outer iteration", "\(p.outerIterations)")
                line("jacobians", "\(p.jacobians)")
                line("world evaluations", "\(p.worldEvaluations)")
                if let last = p.last, last.converged { line("max moment gap", String(format: "%.3e", normInf(last.gap))) }
                if let theta = p.state?.x ?? p.last?.theta { line("parameters", numbers(theta)) }
                if let q = p.partial { line("jacobian columns", "\(q.done.count) done") }
                line("elapsed", String(format: "%.1f s", h.elapsed))
                line("ranks / groups", "\(h.attributes["ranks"] ?? "?") / \(h.attributes["groups"] ?? "?")")
                line("configuration hash", "\(h.configurationHash) (effective keys)")
                line("written", h.attributes["created"] ?? "?")
                return 0
            } catch {
                line("status", "INVALID: \(error)")
                return HatExit.io
            }
        case SolveCheckpoint.kind?:
            print("\(path): hat solve checkpoint")
            do {
                let c = try SolveCheckpoint.read(path)
                line("status", "valid (checksums verified)")
                line("iteration", "\(c.iteration) (strategy \(c.strategy))")
                if !c.residuals.isEmpty { line("residual max", String(format: "%.3e", normInf(c.residuals))) }
                line("unknowns", numbers(c.unknowns))
                line("configuration hash", "\(c.attributes["configuration_hash"] ?? "-") (effective keys)")
                return 0
            } catch {
                line("status", "INVALID: \(error)")
                return HatExit.io
            }
        default:
            break
        }
        guard let schema = attr("schema_version"), let status = attr("status"), attr("closure") != nil else {
            reportError("\(path): not a hat solution, calibration or checkpoint file")
            return HatExit.badInput
        }
        let calibration = attr("calibration_status")
        let experiment = attr("experiment")
        let kind = calibration != nil ? "hat calibration result" : (experiment != nil ? "hat counterfactual" : "hat equilibrium solution")
        print("\(path): \(kind) (schema \(schema), hat \(attr("hat_version") ?? "?"))")
        if let experiment {
            line("experiment", "\(experiment), analysed country \(attr("analysed_country") ?? "?")")
            if let ev = try? f.read("welfare/ev"), let ok = try? f.read("welfare/converged"), let lambda = try? f.read("welfare/distribution_before") {
                var mean = 0.0, total = 0.0
                for k in ev.indices { mean += lambda[k] * 100 * (ev[k] - 1); total += lambda[k] }
                line("EV mean", String(format: "%.4f %% (distribution-weighted)", mean / total))
                line("EV range", String(format: "%.4f %% to %.4f %%", 100 * (ev.min()! - 1), 100 * (ev.max()! - 1)))
                line("EV states", "\(ev.count), \(ok.filter { $0 == 0 }.count) not converged")
            } else {
                line("EV", "none (the new equilibrium did not converge)")
            }
        }
        if let calibration {
            line("calibration", calibration)
            if let gap = try? f.read("calibration/gap") { line("max moment gap", String(format: "%.3e", normInf(gap))) }
            if let theta = try? f.read("calibration/parameters") { line("parameters", numbers(theta)) }
            if let h = try? f.read("calibration/history"), h.count >= HistoryEntry.width {
                let last = Array(h.suffix(HistoryEntry.width))
                line("outer iterations", "\(Int(last[0]))")
                line("elapsed", String(format: "%.1f s", last[4]))
            }
        }
        line("equilibrium", "\(status) (\(attr("reason") ?? "?"))")
        line("closure", attr("closure") ?? "?")
        line("countries", attr("countries") ?? "?")
        if let r = try? f.read("solver/residuals") { line("residual max", String(format: "%.3e", normInf(r))) }
        if let rates = try? f.read("prices/R") { line("R", numbers(Array(rates.prefix(1)))) }
        if let beta = try? f.read("prices/beta") { line("beta", numbers(beta)) }
        if let w = try? f.read("prices/wages") { line("wages", numbers(w)) }
        if let failed = attr("failed_countries"), !failed.isEmpty { line("failed countries", failed) }
        if let country = attr("analysis_country") {
            var text = country
            if let agg = try? f.read("analysis/aggregate_elasticity") { text += String(format: ", aggregate elasticity %.6f", agg[0]) }
            if let q = try? f.read("analysis/quintiles/import_share") { text += ", import share by expenditure quintile " + numbers(q.map { ($0 * 1e4).rounded() / 1e4 }) }
            line("analysis", text)
        }
        line("configuration hash", hash)
        line("run id", attr("run_id") ?? "-")
        return 0
    }
}
