import Foundation
import HATConfig
import Output
import Parallel
import Runs
import Storage

/// The sweep folder and its modes: one point, every point over rank groups, the table, the target.
///
///     OUT/specification.json     what the points mean (a different specification is refused)
///     OUT/points/NNNN/           one point: point.json, start.json, start/ (the warm start's files),
///                                calibration/ (or psi-0, psi-1, … and psi.json with calibrate_psi)
///     OUT/target/                --target: start.json, target.json, eval-NNNN/ laid out as a point
///     OUT/sweep.csv, sweep.h5, sweep.json   --collect
public struct SweepRun {
    public let spec: SweepSpecification
    public let communicator: Communicator
    public let log: Logger
    public var root: String { spec.outputDirectory }

    /// Prepare the sweep folder (root; collective): a folder holding another specification's points is refused.
    public init(spec: SweepSpecification, communicator: Communicator, log: Logger) throws {
        self.spec = spec
        self.communicator = communicator
        self.log = log
        var refusal = ""
        var code = [Int64(HatExit.badInput)]
        if communicator.isRoot {
            do { try prepareFolder() } catch let e as ConfigError {
                refusal = e.description
            } catch {
                refusal = "\(error)"; code = [Int64(HatExit.io)]
            }
        }
        try communicator.broadcast(&refusal)
        try communicator.broadcast(&code)
        if !refusal.isEmpty { throw HatFailure(refusal, code: Int32(code[0])) }
    }

    /// The base configuration with the sweep's overrides must be a calibration of a data world with the
    /// analysed country: otherwise every point would fail the same way, so it is bad input (exit 2) now.
    public static func checkBase(_ spec: SweepSpecification) throws {
        let cfg: RunConfiguration
        do {
            cfg = try ConfigurationLoader.load(path: spec.base, overrides: spec.overrides)
        } catch let e as ConfigError where e.file == "--set" {
            throw ConfigError(file: spec.path, key: "sweep.set", problem: "\(e.key): \(e.problem)")
        }
        guard cfg.dataWorld != nil else {
            throw ConfigError(file: spec.base, key: "world.data_dir", problem: "a sweep calibrates a world built from data: set [world] data_dir and parameters")
        }
        guard cfg.equilibrium.closure.kind == .fixedRate else {
            throw ConfigError(file: spec.base, key: "equilibrium.closure", problem: "a sweep calibrates at a fixed R: set closure = \"fixed-rate\"")
        }
        guard cfg.world.countryIndex(spec.country) != nil else {
            throw ConfigError(file: spec.path, key: "sweep.country",
                              problem: "\"\(spec.country)\" is not a country of the base world (\(cfg.world.names.joined(separator: ", ")))")
        }
    }

    public static func pointFolder(_ root: String, _ k: Int) -> String { root + "/points/" + String(format: "%04d", k) }

    /// What the points mean: the base configuration's text, the overrides, the points, ψ̃ and the country.
    var identity: JSON {
        let base = (try? String(contentsOfFile: spec.base, encoding: .utf8)) ?? ""
        return .object([
            ("base", .string(spec.base)), ("base_text", .string(base)), ("set", .array(spec.overrides.map { .string($0) })),
            ("points", .array(spec.points.map { .array([.number($0.sigmaEps), .number($0.gamma)]) })),
            ("country", .string(spec.country)), ("calibrate_psi", .bool(spec.calibratePsi)),
            ("psi", .array([.number(spec.psi.tolerance), .integer(spec.psi.maxIterations), .number(spec.psi.step),
                            .number(spec.calibratePsi ? spec.targets.homeShareGap : 0)])),
        ])
    }

    /// Create the folder; refuse one that holds the points of another specification (root).
    func prepareFolder() throws {
        do {
            try FileManager.default.createDirectory(atPath: root + "/points", withIntermediateDirectories: true)
        } catch {
            throw ConfigError(file: spec.path, key: "sweep.out", problem: "cannot create the sweep folder \(root): \(error.localizedDescription)")
        }
        let path = root + "/specification.json"
        let mine = identity.rendered() + "\n"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            guard existing == mine else {
                throw ConfigError(file: spec.path, key: "sweep.out",
                                  problem: "\(root) holds the points of a different sweep (its specification.json differs: base configuration, set, points, country or psi); use another sweep.out or --out")
            }
            return
        }
        try writeAtomically(mine, to: path)
    }

    // MARK: - Points

    /// One point on this run's communicator; the exit code of `--point`.
    public func runPoint(_ k: Int) throws -> Int32 {
        let record = try runPoint(k, on: communicator, log: log)
        return exitCode([record])
    }

    func exitCode(_ records: [PointRecord]) -> Int32 {
        if records.contains(where: { $0.status == .stopped }) { return HatExit.stopped }
        return records.allSatisfy { $0.status == .converged } ? 0 : HatExit.notConverged
    }

    /// Point k of the specification, collective on `comm`: skipped when finished, resumed when started.
    func runPoint(_ k: Int, on comm: Communicator, log: Logger) throws -> PointRecord {
        let p = spec.points[k]
        return try evaluate(index: k, sigmaEps: p.sigmaEps, gamma: p.gamma, folder: SweepRun.pointFolder(root, k),
                            on: comm, log: log) { self.nearestFinished(to: p, excluding: k) }
    }

    /// An evaluation at (σε, γ) in `folder` (a point, or an evaluation of the target). The start is chosen
    /// once (`chooseStart`, root) and kept in start.json, so a resumed point continues the same calibration.
    func evaluate(index: Int, sigmaEps: Double, gamma: Double, folder: String, on comm: Communicator, log: Logger,
                  label: String = "point", chooseStart: () -> (from: String, psi: Double?)?) throws -> PointRecord {
        var message = ""           // root → all: "done", or the start (JSON), or a refusal
        var code = [Int64(0)]
        var lock: RunFolder?
        if comm.isRoot {
            do {
                let f = try RunFolder.prepare(folder, file: spec.path, key: "sweep.out")
                try f.lock(file: spec.path, key: "sweep.out")
                lock = f
                if let done = PointRecord.read(folder + "/point.json"), done.finished,
                   done.sigmaEps == sigmaEps, done.gamma == gamma {
                    message = "done"
                } else {
                    message = try startRecord(folder: folder, choose: chooseStart).rendered()
                }
            } catch let e as ConfigError {
                message = "!" + e.description; code = [Int64(HatExit.badInput)]
            } catch {
                message = "!\(error)"; code = [Int64(HatExit.io)]
            }
        }
        try comm.broadcast(&message)
        try comm.broadcast(&code)
        if message.hasPrefix("!") { lock?.unlock(); throw HatFailure(String(message.dropFirst()), code: Int32(code[0])) }
        let name = "\(label) \(index) (sigma_eps \(sigmaEps), gamma \(gamma))"
        if message == "done" {
            lock?.unlock()
            var text = ""
            if comm.isRoot { text = (try? String(contentsOfFile: folder + "/point.json", encoding: .utf8)) ?? "" }
            try comm.broadcast(&text)
            let record = try PointRecord(json: JSON.parse(text))
            log("\(name): finished before (\(record.status.rawValue)); not computed again")
            return record
        }
        let start = try JSON.parse(message)
        let from = start["from"]?.string ?? "base"
        let evaluator = SweepEvaluator(spec: spec, communicator: comm, log: log)
        log("\(name): starting from \(from)")
        var record = try evaluator.evaluate(index: index, sigmaEps: sigmaEps, gamma: gamma, folder: folder,
                                            start: from == "base" ? .base : .folder(folder + "/start"),
                                            startPsi: start["psi_slope"]?.double, relativeTo: root)
        record.startFrom = from
        var problem = ""
        if record.status != .stopped, comm.isRoot {
            do { try writeAtomically(record.json.rendered() + "\n", to: folder + "/point.json") } catch { problem = "\(error)" }
        }
        lock?.unlock()
        try comm.broadcast(&problem)
        if !problem.isEmpty { throw HatFailure("writing \(folder)/point.json: \(problem)", code: HatExit.io) }
        log(summaryLine(name, record))
        return record
    }

    func summaryLine(_ name: String, _ r: PointRecord) -> String {
        switch r.status {
        case .converged:
            return String(format: "%@: converged; elasticities poor %.4f, median %.4f, rich %.4f; home share gap %.5f%@",
                          name, r["elasticity_poor"], r["elasticity_median"], r["elasticity_rich"], r["home_share_gap"],
                          spec.calibratePsi ? String(format: " at psi_slope %.6f", r.psiSlope) : "")
        case .stopped: return "\(name): stopped at a checkpoint; run it again to go on"
        default: return "\(name): \(r.status.rawValue): \(r.reason)"
        }
    }

    /// start.json of a point (root): read when the point started before, else chosen now, with the start's
    /// parameters.csv and wage-guess.csv copied into the point (so it does not depend on the other folder).
    func startRecord(folder: String, choose: () -> (from: String, psi: Double?)?) throws -> JSON {
        let path = folder + "/start.json"
        let fm = FileManager.default
        let files = ["parameters.csv", "wage-guess.csv"]
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let json = try? JSON.parse(text) {
            // A damaged folder is not a result: restore missing start files from their source, or stop (exit 4)
            // without a row, so that the point can run once the folder is repaired.
            if let from = json["from"]?.string, from != "base" {
                let source = from.hasPrefix("/") ? from : root + "/" + from
                for file in files where !fm.fileExists(atPath: folder + "/start/" + file) {
                    do {
                        try fm.createDirectory(atPath: folder + "/start", withIntermediateDirectories: true)
                        try fm.copyItem(atPath: source + "/" + file, toPath: folder + "/start/" + file)
                    } catch {
                        throw OutputError(path: folder + "/start/" + file,
                                          problem: "the warm start's file is missing and cannot be copied again from \(source) (\(error.localizedDescription)); restore it, or delete \(folder) to start the point afresh")
                    }
                }
            }
            return json
        }
        var fields: [(String, JSON)] = [("from", .string("base"))]
        if let chosen = choose() {
            let source = chosen.from.hasPrefix("/") ? chosen.from : root + "/" + chosen.from
            try? fm.removeItem(atPath: folder + "/start")
            try fm.createDirectory(atPath: folder + "/start", withIntermediateDirectories: true)
            for file in files {
                try fm.copyItem(atPath: source + "/" + file, toPath: folder + "/start/" + file)
            }
            fields = [("from", .string(chosen.from))]
            if let psi = chosen.psi { fields.append(("psi_slope", .number(psi))) }
        }
        let json = JSON.object(fields)
        try writeAtomically(json.rendered() + "\n", to: path)
        return json
    }

    /// The finished, converged point nearest to `p` (relative distance in σε and γ; ties: the lower index).
    func nearestFinished(to p: SweepSpecification.Point, excluding k: Int) -> (from: String, psi: Double?)? {
        var best: (distance: Double, index: Int, record: PointRecord)?
        for (j, q) in spec.points.enumerated() where j != k {
            guard let r = PointRecord.read(SweepRun.pointFolder(root, j) + "/point.json"), r.status == .converged,
                  r.sigmaEps == q.sigmaEps, r.gamma == q.gamma, !r.calibration.isEmpty,
                  FileManager.default.fileExists(atPath: root + "/" + r.calibration + "/parameters.csv") else { continue }
            let ds = (q.sigmaEps - p.sigmaEps) / p.sigmaEps, dg = (q.gamma - p.gamma) / p.gamma
            let d = ds * ds + dg * dg
            guard d.isFinite else { continue }
            if best == nil || d < best!.distance { best = (d, j, r) }
        }
        guard let best else { return nil }
        return (best.record.calibration, spec.calibratePsi ? best.record.psiSlope : nil)
    }

    // MARK: - Every point over rank groups

    public func runAll(groups requested: Int?) throws -> Int32 {
        let n = spec.points.count
        // `hat sweep` refused --groups beyond the rank count before the folder was touched.
        let g = min(requested ?? n, communicator.size)
        // Contiguous rank groups; points round-robin over the groups, each group in index order.
        let partition = Partition(count: communicator.size, parts: g)
        let group = (0..<g).first { partition.range(of: $0).contains(communicator.rank) }!
        let comm = g == 1 ? communicator : try communicator.split(color: group, key: communicator.rank)
        let groupLog = g == 1 ? log : Logger(communicator: comm, prefix: "hat[group \(group)]: ", sink: { Console.error($0) })
        log("sweep: \(n) point(s) over \(g) rank group(s) (\(communicator.size) rank(s) in all); folder \(root)")
        var stopped = false
        var failure: HatFailure?
        do {
            for k in stride(from: group, to: n, by: g) {
                if try StopSignal.agree(comm) { stopped = true; break }
                let record = try runPoint(k, on: comm, log: groupLog)
                if record.status == .stopped { stopped = true; break }
            }
        } catch let e as HatFailure {
            failure = e
        } catch let e as ConfigError {
            failure = HatFailure(e.description, code: HatExit.badInput)
        } catch let e as OutputError {
            failure = HatFailure("writing \(e.description)", code: HatExit.io)
        } catch {
            failure = HatFailure("\(error)", code: 1)
        }
        // A group that failed says why itself (rank 0 of the world may be in another group), then every
        // group meets here: nobody waits for a group that has given up.
        if let failure, comm.isRoot { Console.error("error: \(g > 1 ? "group \(group): " : "")\(failure.message)") }
        let worst = try communicator.allReduce([Int64(failure?.code ?? 0), stopped ? 1 : 0])
        if worst[0] != 0 {
            throw HatFailure("the sweep ended early: a rank group failed (see above); finished points are kept", code: Int32(worst[0]))
        }
        if worst[1] > 0 {
            log("sweep stopped by a signal; run it again to go on (finished points are kept)")
            return HatExit.stopped
        }
        let code = try collect()
        return code
    }

    // MARK: - The table

    /// Gather every point's record (root) into sweep.csv, sweep.h5 and sweep.json; report the point closest
    /// to the targets. Returns 0 when every point converged, else 3.
    public func collect() throws -> Int32 {
        var problem = ""
        var code = [Int64(0)]
        if communicator.isRoot {
            let records = spec.points.enumerated().map { k, p -> PointRecord in
                let folder = SweepRun.pointFolder(root, k)
                if var r = PointRecord.read(folder + "/point.json"), r.sigmaEps == p.sigmaEps, r.gamma == p.gamma {
                    r.index = k
                    return r
                }
                let started = FileManager.default.fileExists(atPath: folder + "/start.json")
                return PointRecord(index: k, sigmaEps: p.sigmaEps, gamma: p.gamma, status: .missing,
                                   reason: started ? "started, not finished (run the point again to resume it)" : "not run")
            }
            do {
                let table = SweepTable(records: records, targets: spec.targets)
                try table.write(folder: root)
                for r in records { print(table.line(r)) }
                if let best = table.best {
                    print(String(format: "closest to the targets (poor %.2f, median %.2f): point %d, sigma_eps %.6g, gamma %.6g: elasticities %.4f / %.4f (distance %.4g)",
                                       spec.targets.poor, spec.targets.median, best.index, best.sigmaEps, best.gamma,
                                       best["elasticity_poor"], best["elasticity_median"], best["target_distance"]))
                }
                print("wrote \(root)/sweep.csv, sweep.h5, sweep.json")
                if !Console.flushOutput() {
                    throw OutputError(path: "standard output", problem: "the collected table could not be printed (closed or full); the files were written")
                }
                code = [Int64(records.allSatisfy { $0.status == .converged } ? 0 : HatExit.notConverged)]
            } catch {
                problem = "writing the sweep table into \(root): \(error)"
            }
        }
        try communicator.broadcast(&problem)
        try communicator.broadcast(&code)
        if !problem.isEmpty { throw HatFailure(problem, code: HatExit.io) }
        return Int32(code[0])
    }
}
