import Checksum
import Equilibrium
import Foundation
import HATModel
import Output
import Parallel
import Solvers
import Storage

/// Layout version of calibration checkpoints; bump when datasets change meaning. Schema 2 adds the inner
/// solve's record of the last moment evaluation (`InnerSolveRecord`).
public let checkpointSchemaVersion = "2"
/// The schemas `verify` and `readProgress` read: a checkpoint of schema 1 resumes too (a finished one
/// reports the reporting evaluation's residuals in place of the solver's).
public let readableCheckpointSchemas = ["1", "2"]
/// The `kind` attribute of a calibration checkpoint.
public let checkpointKind = "hat-calibration-checkpoint"

/// A checkpoint that cannot be used, and why.
public struct CheckpointProblem: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "\((path as NSString).lastPathComponent): \(problem)" }
}

/// What `verify` learned about a checkpoint file.
public struct CheckpointHeader: Sendable {
    public var path: String
    public var sequence: Int
    public var phase: String
    public var elapsed: Double
    public var configurationHash: String
    public var effectiveValues: [(key: String, value: String)]
    public var attributes: [String: String]
}

/// The checkpoints of one calibration: `DIR/checkpoint-NNNNNN.h5`, each written to a temporary name by every
/// rank (the world solution by the ranks that own each country), flushed, closed, re-opened and verified by
/// the root against the checksums it carries, then renamed; the newest `keep` are kept.
public struct CheckpointStore {
    public let directory: String
    public let keep: Int
    public let configurationText: String
    public let effectiveValues: [(key: String, value: String)]
    public let runID: String
    public let groups: Int
    /// For kill tests: called on the root after a checkpoint is verified ("checkpoint-verified") and after
    /// its rename ("checkpoint-renamed").
    public var faultPoint: (String) -> Void = { _ in }

    public init(directory: String, keep: Int, configurationText: String,
                effectiveValues: [(key: String, value: String)], runID: String, groups: Int) {
        self.directory = directory; self.keep = keep; self.configurationText = configurationText
        self.effectiveValues = effectiveValues; self.runID = runID; self.groups = groups
    }

    public static func effectiveText(_ values: [(key: String, value: String)]) -> String {
        values.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
    }
    public var configurationHash: String { checksumHex(fnv1a64(CheckpointStore.effectiveText(effectiveValues))) }

    public static func name(sequence: Int) -> String { String(format: "checkpoint-%06d.h5", sequence) }

    /// The number of a checkpoint file name written by `name(sequence:)`; nil for any other name.
    static func sequence(ofName n: String) -> Int? {
        guard n.hasPrefix("checkpoint-"), n.hasSuffix(".h5"),
              let k = Int(n.dropFirst("checkpoint-".count).dropLast(3)), k >= 0, name(sequence: k) == n else { return nil }
        return k
    }

    /// Checkpoint files in `directory` (exactly the names this program writes, regular files only: a FIFO
    /// or a folder of that name is never opened), newest (highest number) first.
    public static func candidates(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { n in sequence(ofName: n).map { (n, $0) } }
            .filter { isRegularFile(directory + "/" + $0.0) }
            .sorted { $0.1 > $1.1 }.map { directory + "/" + $0.0 }
    }

    // MARK: - Writing (collective)

    /// Write checkpoint `progress.sequence` (collective over the run's communicator). Throws `OutputError`
    /// on every rank alike when any part failed; the previous checkpoints are then untouched.
    public func write(_ progress: CalibrationProgress, run: CalibrationRun) throws {
        let comm = run.communicator
        let final = directory + "/" + CheckpointStore.name(sequence: progress.sequence)
        let temporary = directory + "/." + CheckpointStore.name(sequence: progress.sequence) + ".tmp-" + runID
        if comm.isRoot { SignalCleanup.register(temporary) }
        var problem = ""
        do {
            try writeContents(temporary, progress: progress, run: run)
        } catch {
            problem = "\(error)"
        }
        // Agree on the write, then the root verifies and renames.
        let failed = try comm.allReduce([problem.isEmpty ? 0 : 1])[0] == 1
        if failed && problem.isEmpty { problem = "another rank failed to write its part" }
        if comm.isRoot && !failed {
            do {
                _ = try CheckpointStore.verify(temporary)
                faultPoint("checkpoint-verified")
                try syncFile(temporary)
                guard rename(temporary, final) == 0 else {
                    throw OutputError(path: final, problem: "rename failed: \(String(cString: strerror(errno)))")
                }
                syncDirectory(directory)
                faultPoint("checkpoint-renamed")
                prune()
            } catch {
                problem = "\(error)"
            }
        }
        if comm.isRoot {
            if !problem.isEmpty { unlink(temporary) }
            SignalCleanup.unregister(temporary)
        }
        try comm.broadcast(&problem)
        if !problem.isEmpty {
            throw OutputError(path: final, problem: "checkpoint not written (\(problem)); the previous checkpoints are unchanged")
        }
    }

    private func writeContents(_ path: String, progress p: CalibrationProgress, run: CalibrationRun) throws {
        let comm = run.communicator
        let file = try HDF5File.create(path, communicator: comm)
        var checksums: [(String, String)] = []
        func shared(_ name: String, _ shape: [Int], _ values: [Double], _ description: String) throws {
            try file.writeShared(name, shape: shape, values: values, attributes: ["description": description])
            checksums.append((name, checksumHex(fnv1a64(values))))
        }
        try shared("calibration/counters", [6],
                   [Double(p.sequence), Double(p.outerIterations), Double(p.jacobians), Double(p.worldEvaluations),
                    p.elapsed, Double(p.history.count)],
                   "sequence, outer iterations, jacobians, world evaluations, elapsed seconds, history rows")
        if !p.history.isEmpty {
            try shared("calibration/history", [p.history.count, HistoryEntry.width], p.history.flatMap(\.values),
                       "per outer iteration: iteration, max-abs moment gap, scaled step, world evaluations so far, elapsed seconds")
        }
        if let s = p.state {
            try shared("calibration/state", [s.values.count], s.values,
                       "the outer hybrid root finder's state at the last iteration boundary (HybridState.values)")
            try shared("calibration/theta", [s.x.count], s.x, "the current parameter vector (46)")
        }
        if let last = p.last {
            try shared("calibration/last/theta", [last.theta.count], last.theta, "parameters of the last moment evaluation")
            try shared("calibration/last/unknowns", [last.unknowns.count], last.unknowns,
                       "x*: log wages (M-1) and log beta solved at the last moment evaluation")
            try shared("calibration/last/converged", [], [last.converged ? 1 : 0], "1 if the inner equilibrium was solved")
            if last.converged {
                try shared("calibration/last/gap", [last.gap.count], last.gap, "model minus data moments (46)")
                try shared("calibration/last/base", [last.base.count], last.base,
                           "market residuals (M) and model moments (46) at the last point")
                if let inner = last.inner {
                    try shared("calibration/last/inner/residuals", [inner.residuals.count], inner.residuals,
                               "market residuals at x* in the inner solver's evaluation (what the outputs report)")
                    try shared("calibration/last/inner/counters", [inner.counters.count], inner.counters,
                               "the inner solve's reason (ConvergenceReason raw value), iterations, world evaluations, whether it measured a noise level, the level")
                }
            }
        }
        if let q = p.partial {
            try shared("calibration/partial/theta", [q.theta.count], q.theta, "point of the Jacobian in progress")
            try shared("calibration/partial/refreshes", [], [Double(q.refreshes)], "moment evaluations before the columns")
            if !q.done.isEmpty {
                try shared("calibration/partial/done", [q.done.count], q.done.map(Double.init), "column indices done")
                try shared("calibration/partial/columns", [q.done.count, q.columns[0].count], q.columns.flatMap { $0 },
                           "d[F; y] of each done column")
            }
        }
        // The world solution at the last moment evaluation (the warm start of every evaluation that follows),
        // laid out as solution.h5, written by the owners of each country.
        let owned = run.evaluator.owned
        let anchors = run.ownedAnchors
        let haveAll = try comm.allReduce([anchors.count == owned.count ? 0 : 1])[0] == 0
        if haveAll && run.last != nil {
            let m = run.problem.countries, nS = run.evaluator.income.count, na = run.problem.model.assetPoints
            let arrays: [(String, String, [Int], (CountrySolution) -> [Double])] = [
                ("household/c", "consumption policy c[country, j, s, a]", [m, m, nS, na], { $0.policy.consumption }),
                ("household/v", "choice-specific value v[country, j, s, a]", [m, m, nS, na], { $0.policy.values }),
                ("distribution", "stationary distribution lambda[country, s, a]", [m, nS, na], { $0.masses }),
            ]
            for (name, description, shape, extract) in arrays {
                try file.createDataset(name, shape: shape, attributes: ["description": description])
                let rows = owned.map { extract(anchors[$0]!) }
                try file.write(name, rows: owned.lowerBound, count: owned.count, values: rows.flatMap { $0 })
                let sums = try comm.allGather(rows.map { checksumHex(fnv1a64($0)) })
                checksums.append((name, sums.joined(separator: ",")))
            }
        }
        let inner = p.last.flatMap { $0.converged ? $0.inner : nil }
        let attributes: [(String, String)] = [
            ("kind", checkpointKind), ("schema_version", checkpointSchemaVersion), ("hat_version", hatVersion),
            ("sequence", "\(p.sequence)"), ("phase", p.phase), ("elapsed_seconds", String(format: "%.3f", p.elapsed)),
            ("ranks", "\(comm.size)"), ("groups", "\(groups)"), ("run_id", runID),
            ("created", ISO8601DateFormatter().string(from: Date())),
            ("countries", run.problem.dataWorld.data.countries.joined(separator: ",")),
            ("configuration", configurationText),
            ("effective_configuration", CheckpointStore.effectiveText(effectiveValues)),
            ("configuration_hash", configurationHash),
            // The strings of the inner solve's record (empty without one).
            ("inner_strategy", inner?.strategy ?? ""), ("inner_reason_detail", inner?.detail ?? ""),
        ]
        for (k, v) in attributes { try file.setAttribute("/", k, v) }
        checksums.append(("attributes", checksumHex(fnv1a64(attributes.map { "\($0.0)=\($0.1)" }.joined(separator: "\n")))))
        try file.setAttribute("/", "checksums", checksums.map { "\($0.0) \($0.1)" }.joined(separator: "\n"))
        try file.flush()
    }

    /// Keep the newest `keep` checkpoints; remove stale temporaries of runs that died.
    func prune() {
        for old in CheckpointStore.candidates(in: directory).dropFirst(keep) { unlink(old) }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for n in names where n.hasPrefix(".checkpoint-") && n.contains(".tmp-") && !n.hasSuffix(runID) {
            unlink(directory + "/" + n)
        }
    }

    // MARK: - Reading

    /// Open a checkpoint serially and check everything: kind, schema, and every dataset's and the
    /// attributes' checksums. Throws `CheckpointProblem` saying what is wrong.
    public static func verify(_ path: String) throws -> CheckpointHeader {
        let file: HDF5File
        do { file = try HDF5File.open(path) } catch {
            throw CheckpointProblem(path: path, problem: "not a readable HDF5 file (truncated or corrupted)")
        }
        func attr(_ k: String) throws -> String {
            do { return try file.attribute("/", k) } catch {
                throw CheckpointProblem(path: path, problem: "attribute \(k) missing or unreadable (corrupted?)")
            }
        }
        guard (try? file.attribute("/", "kind")) == checkpointKind else {
            throw CheckpointProblem(path: path, problem: "not a hat calibration checkpoint")
        }
        let schema = try attr("schema_version")
        guard readableCheckpointSchemas.contains(schema) else {
            throw CheckpointProblem(path: path, problem: "checkpoint schema \(schema), this hat reads \(readableCheckpointSchemas.joined(separator: " and "))")
        }
        let names = ["kind", "schema_version", "hat_version", "sequence", "phase", "elapsed_seconds", "ranks", "groups",
                     "run_id", "created", "countries", "configuration", "effective_configuration", "configuration_hash"]
            + (schema == "1" ? [] : ["inner_strategy", "inner_reason_detail"])
        var attributes: [String: String] = [:]
        for n in names { attributes[n] = try attr(n) }
        let lines = try attr("checksums").split(separator: "\n").map(String.init)
        var sawAttributes = false
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CheckpointProblem(path: path, problem: "malformed checksum list") }
            let (name, expected) = (parts[0], parts[1])
            if name == "attributes" {
                let text = names.map { "\($0)=\(attributes[$0]!)" }.joined(separator: "\n")
                guard checksumHex(fnv1a64(text)) == expected else {
                    throw CheckpointProblem(path: path, problem: "checksum of the attributes does not match (corrupted)")
                }
                sawAttributes = true
                continue
            }
            let values: [Double]
            let shape: [Int]
            do { values = try file.read(name); shape = try file.shape(name) } catch {
                throw CheckpointProblem(path: path, problem: "dataset \(name) unreadable (truncated or corrupted)")
            }
            let sums: [String]
            if expected.contains(",") || ["household/c", "household/v", "distribution"].contains(name) {
                let rows = shape.first ?? 1, per = rows > 0 ? values.count / rows : 0
                sums = (0..<rows).map { checksumHex(fnv1a64(Array(values[($0 * per)..<(($0 + 1) * per)]))) }
            } else {
                sums = [checksumHex(fnv1a64(values))]
            }
            guard sums.joined(separator: ",") == expected else {
                throw CheckpointProblem(path: path, problem: "checksum of \(name) does not match (corrupted)")
            }
        }
        guard sawAttributes else { throw CheckpointProblem(path: path, problem: "no attribute checksum (incomplete)") }
        let effective = attributes["effective_configuration"]!.split(separator: "\n").map { line -> (key: String, value: String) in
            let parts = line.components(separatedBy: " = ")
            return (parts[0], parts.dropFirst().joined(separator: " = "))
        }
        return CheckpointHeader(path: path, sequence: Int(attributes["sequence"]!) ?? -1, phase: attributes["phase"]!,
                                elapsed: Double(attributes["elapsed_seconds"]!) ?? .nan,
                                configurationHash: attributes["configuration_hash"]!, effectiveValues: effective,
                                attributes: attributes)
    }

    /// The first key whose value differs between a checkpoint's configuration and this run's, ignoring the
    /// keys that may change on a resume; nil when they agree.
    public func firstDifference(from header: CheckpointHeader, ignoring: Set<String>) -> (key: String, there: String, here: String)? {
        let there = Dictionary(header.effectiveValues.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        for (key, value) in effectiveValues where !ignoring.contains(key) {
            let old = there[key] ?? "(absent)"
            if old != value { return (key, old, value) }
        }
        return nil
    }

    /// Read the root-side progress from a verified checkpoint (any rank can; every rank reads the same).
    public static func readProgress(_ path: String) throws -> CalibrationProgress {
        let f = try HDF5File.open(path)
        var p = CalibrationProgress()
        let c = try f.read("calibration/counters")
        p.sequence = Int(c[0]); p.outerIterations = Int(c[1]); p.jacobians = Int(c[2]); p.worldEvaluations = Int(c[3])
        p.elapsed = c[4]
        if f.exists("calibration/history") {
            let h = try f.read("calibration/history")
            p.history = stride(from: 0, to: h.count, by: HistoryEntry.width).map { HistoryEntry(values: Array(h[$0..<($0 + HistoryEntry.width)])) }
        }
        if f.exists("calibration/state") {
            guard let s = HybridState(values: try f.read("calibration/state")) else {
                throw CheckpointProblem(path: path, problem: "the root finder's state is not valid")
            }
            p.state = s
        }
        if f.exists("calibration/last") {
            let theta = try f.read("calibration/last/theta")
            let unknowns = try f.read("calibration/last/unknowns")
            let converged = try f.read("calibration/last/converged")[0] == 1
            let n = theta.count
            // A failed evaluation has no gap or base in the file (no NaN is written); it is NaN in memory.
            p.last = MomentPoint(theta: theta, unknowns: unknowns,
                                 gap: converged ? try f.read("calibration/last/gap") : [Double](repeating: .nan, count: n),
                                 base: converged ? try f.read("calibration/last/base")
                                     : [Double](repeating: .nan, count: n + unknowns.count),
                                 converged: converged)
            if converged && f.exists("calibration/last/inner/counters") {
                guard let inner = InnerSolveRecord(residuals: try f.read("calibration/last/inner/residuals"),
                                                   counters: try f.read("calibration/last/inner/counters"),
                                                   detail: try f.attribute("/", "inner_reason_detail"),
                                                   strategy: try f.attribute("/", "inner_strategy")) else {
                    throw CheckpointProblem(path: path, problem: "the inner solve's record is not valid")
                }
                p.last?.inner = inner
            }
        }
        if f.exists("calibration/partial") {
            var q = PartialJacobian(theta: try f.read("calibration/partial/theta"),
                                    refreshes: Int(try f.read("calibration/partial/refreshes")[0]))
            if f.exists("calibration/partial/done") {
                q.done = try f.read("calibration/partial/done").map { Int($0) }
                let flat = try f.read("calibration/partial/columns")
                let width = flat.count / max(q.done.count, 1)
                q.columns = (0..<q.done.count).map { Array(flat[($0 * width)..<(($0 + 1) * width)]) }
            }
            p.partial = q
        }
        p.phase = try f.attribute("/", "phase")
        return p
    }

    /// Read the world solution rows of `countries` (nil when the checkpoint has none).
    public static func readSolutions(_ path: String, countries: Range<Int>) throws -> [Int: CountrySolution]? {
        let f = try HDF5File.open(path)
        guard f.exists("household/c") else { return nil }
        let c = try f.read("household/c", rows: countries.lowerBound, count: countries.count)
        let v = try f.read("household/v", rows: countries.lowerBound, count: countries.count)
        let d = try f.read("distribution", rows: countries.lowerBound, count: countries.count)
        let per = countries.isEmpty ? 0 : c.count / countries.count, perD = countries.isEmpty ? 0 : d.count / countries.count
        var out: [Int: CountrySolution] = [:]
        for (k, i) in countries.enumerated() {
            out[i] = CountrySolution(policy: HouseholdPolicy(consumption: Array(c[(k * per)..<((k + 1) * per)]),
                                                             values: Array(v[(k * per)..<((k + 1) * per)])),
                                     masses: Array(d[(k * perD)..<((k + 1) * perD)]))
        }
        return out
    }
}

/// Whether `path` is (or links to) a regular file: opening anything else (a FIFO) could block.
public func isRegularFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
}

func syncFile(_ path: String) throws {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw OutputError(path: path, problem: "cannot open for fsync") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw OutputError(path: path, problem: "fsync failed: \(String(cString: strerror(errno)))") }
}

func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY)
    if fd >= 0 { fsync(fd); close(fd) }
}
