import Firms
import Foundation
import HATConfig
import Output
import Parallel
import Storage

/// `hat firms simulate`: firm-by-destination rows from a solved firm world (`FirmSample`), streamed in
/// chunks of entrants into firms.csv and firms.h5, with simulate.json comparing the simulated aggregates with
/// the model's. The entrants are cut into fixed chunks whatever the rank count, the chunks spread over the
/// ranks, and every chunk's rows and sums depend on the chunk alone, summed in chunk order on the root: the
/// files and the aggregates are the same bits on any number of ranks.
public struct FirmSimulateJob {
    public static let outputs = ["firms.csv", "firms.h5", "simulate.json"]
    /// Entrants per chunk (the unit of work, of memory and of the aggregates' summation order).
    public static let chunk = 16_384

    public let loaded: LoadedFirmWorld
    public let firms: Int
    public let seed: UInt64
    public let communicator: Communicator
    public let log: Logger

    public init(loaded: LoadedFirmWorld, firms: Int, seed: UInt64, communicator: Communicator, log: Logger) {
        self.loaded = loaded; self.firms = firms; self.seed = seed; self.communicator = communicator; self.log = log
    }

    public func run(started: Date) throws -> RunEnd {
        let cfg = loaded.configuration, comm = communicator
        // Every rank solves the (small, deterministic) world alike.
        let solution: MelitzSolution
        do {
            solution = try MelitzEquilibrium(world: cfg.world).solve()
            guard solution.report.converged else {
                throw HatFailure("firms simulate: the firm world's equilibrium did not converge (residual \(solution.report.residual))", code: HatExit.notConverged)
            }
            try solution.checkConditions(requireInterior: cfg.world.distributions.allSatisfy { $0.paretoShape != nil })
        } catch let e as FirmsError {
            throw HatFailure(ConfigError(file: cfg.path, key: e.key.isEmpty ? "firms" : e.key, problem: e.problem).description,
                             code: HatExit.badInput)
        }
        let (folder, refusal) = try prepareOutputFolder(cfg.outputDirectory, outputs: Self.outputs, file: loaded.folderFile,
                                                        key: loaded.folderKey, comm: comm)
        if !refusal.isEmpty { throw HatFailure(refusal, code: HatExit.badInput) }
        return try abandoningOnFailure(folder, comm: comm) { try simulate(solution, cfg: cfg, folder: folder, started: started) }
    }

    func simulate(_ solution: MelitzSolution, cfg: FirmWorldConfiguration, folder: RunFolder?, started: Date) throws -> RunEnd {
        let comm = communicator, n = solution.count
        let sample = FirmSample(solution: solution, firms: firms, seed: seed)
        let total = sample.draws.reduce(0, +)
        let starts = sample.draws.indices.map { sample.draws[0..<$0].reduce(0, +) }
        func locate(_ g: Int) -> (Int, Int) {
            let i = starts.lastIndex { $0 <= g }!
            return (i, g - starts[i])
        }
        let chunks = (total + Self.chunk - 1) / Self.chunk
        let mine = Partition(count: chunks, parts: comm.size).range(of: comm.rank)
        func entrants(of c: Int) -> Range<Int> { (c * Self.chunk)..<min(total, (c + 1) * Self.chunk) }

        // Pass 1: rows per chunk, for every chunk's place in the file.
        var counts: [Double] = []
        for c in mine {
            var rows = 0
            for g in entrants(of: c) { let (i, j) = locate(g); rows += sample.rowCount(origin: i, entrant: j) }
            counts.append(Double(rows))
        }
        let allCounts = try comm.allGatherV(counts).map { Int($0) }
        let offsets = allCounts.indices.map { allCounts[0..<$0].reduce(0, +) }
        let rows = allCounts.reduce(0, +)

        var runID = folder?.runID ?? ""
        try comm.broadcast(&runID)
        let dir = cfg.outputDirectory
        func staged(_ name: String) -> String { RunFolder.temporaryPath(in: dir, for: name, runID: runID) }
        if let folder { for name in Self.outputs { folder.track(name) } }
        let part = staged("firms.csv") + ".part\(comm.rank)"
        SignalCleanup.register(part)
        defer { try? FileManager.default.removeItem(atPath: part) }
        var problem = ""
        let t0 = Date()
        // Per chunk: Σ sales and the count of sellers by (n, i), active and exporting entrants by origin.
        let statWidth = 2 * n * n + 2 * n
        var stats: [Double] = []
        do {
            let file = try HDF5File.create(staged("firms.h5"), communicator: comm)
            try file.setAttribute("/", "program", "hat firms simulate")
            try file.createDataset("rows", shape: [rows, FirmSample.columns.count],
                                   attributes: ["columns": FirmSample.columns.joined(separator: ","),
                                                "description": "one row per (active firm, destination served): firm id, origin and destination (0-based country indices), productivity, producer sales, predictors (docs/FIRMS.md)"])
            guard FileManager.default.createFile(atPath: part, contents: nil), let handle = FileHandle(forWritingAtPath: part) else {
                throw OutputError(path: part, problem: "cannot create")
            }
            defer { try? handle.close() }
            let most = Partition(count: chunks, parts: comm.size).range(of: 0).count
            for step in 0..<most {
                // A stop (SIGTERM, SIGUSR1) between chunks, agreed by every rank: nothing is committed.
                if try StopSignal.agree(comm) { throw SimulationStopped() }
                var values: [Double] = []
                var first = 0
                if step < mine.count {
                    let c = mine.lowerBound + step
                    first = offsets[c]
                    var chunkStats = [Double](repeating: 0, count: statWidth)
                    values.reserveCapacity(allCounts[c] * FirmSample.columns.count)
                    for g in entrants(of: c) {
                        let (i, j) = locate(g)
                        let before = values.count
                        let served = sample.rows(origin: i, entrant: j, into: &values)
                        if served > 0 { chunkStats[2 * n * n + i] += 1 }
                        var exports = false
                        for r in 0..<served {
                            let row = before + r * FirmSample.columns.count
                            let dest = Int(values[row + 2])
                            chunkStats[dest * n + i] += values[row + 4]
                            chunkStats[n * n + dest * n + i] += 1
                            if dest != i { exports = true }
                        }
                        if exports { chunkStats[2 * n * n + n + i] += 1 }
                    }
                    stats += chunkStats
                    try handle.write(contentsOf: Data(Self.csv(values, names: solution.world.names).utf8))
                }
                try file.write("rows", rows: first, count: values.count / FirmSample.columns.count, values: values)
            }
            try file.flush()
        } catch is SimulationStopped {
            try? FileManager.default.removeItem(atPath: part)
            folder?.discard(Self.outputs)
            folder?.abandon()
            log("firms simulate: stopped by a signal after some chunks; nothing was written (run it again)")
            return .stopped
        } catch {
            problem = "\(error)"
        }
        let seconds = Date().timeIntervalSince(t0)
        let allStats = try comm.allGatherV(stats)
        try comm.barrier()
        try commitStagedOutputs(Self.outputs, folder: folder, comm: comm, directory: dir, localProblem: problem, note: "") {
            // The CSV: the header, then the ranks' parts in rank order (they hold consecutive chunks).
            let csv = staged("firms.csv")
            guard FileManager.default.createFile(atPath: csv, contents: Data((FirmSample.columns.joined(separator: ",") + "\n").utf8)),
                  let out = FileHandle(forWritingAtPath: csv) else { throw OutputError(path: csv, problem: "cannot create") }
            defer { try? out.close() }
            try out.seekToEnd()
            for r in 0..<comm.size {
                let path = staged("firms.csv") + ".part\(r)"
                guard let input = FileHandle(forReadingAtPath: path) else { throw OutputError(path: path, problem: "cannot read") }
                defer { try? input.close() }
                while let block = try input.read(upToCount: 1 << 22), !block.isEmpty { try out.write(contentsOf: block) }
            }
            try out.synchronize()
            // The aggregates in chunk order, scaled to the model's masses.
            var sums = [Double](repeating: 0, count: statWidth)
            for c in 0..<chunks { for k in 0..<statWidth { sums[k] += allStats[c * statWidth + k] } }
            let sales = (0..<n).map { dest in (0..<n).map { sums[dest * n + $0] * sample.weight[$0] } }
            let sellers = (0..<n).map { dest in (0..<n).map { sums[n * n + dest * n + $0] * sample.weight[$0] } }
            let exporterShare = (0..<n).map { i in sums[2 * n * n + i] > 0 ? sums[2 * n * n + n + i] / sums[2 * n * n + i] : 0 }
            func gap(_ a: [[Double]], _ b: [[Double]]) -> Double {
                zip(a.joined(), b.joined()).map { $1 > 0 ? abs($0 / $1 - 1) : 0 }.max() ?? 0
            }
            let json = JSON.object([
                ("status", .string("converged")), ("firms", .integer(firms)), ("seed", .integer(Int(seed))),
                ("entrant_draws", .array(sample.draws.map { JSON.integer($0) })), ("draw_weight", .numbers(sample.weight)),
                ("rows", .integer(rows)), ("columns", .array(FirmSample.columns.map { JSON.string($0) })),
                ("simulated", .object([("sales", .matrix(sales)), ("sellers", .matrix(sellers)), ("exporter_share", .numbers(exporterShare))])),
                ("model", .object([("sales", .matrix(solution.sales)), ("sellers", .matrix(solution.sellers)),
                                   ("exporter_share", .numbers(solution.exporterShares))])),
                ("max_relative_gap", .object([("sales", .number(gap(sales, solution.sales))), ("sellers", .number(gap(sellers, solution.sellers)))])),
                ("rows_per_second", .number(Double(rows) / max(seconds, 1e-9))), ("simulate_wall_seconds", .number(seconds)),
                ("wall_seconds", .number(Date().timeIntervalSince(started))), ("version", .string(hatVersion)),
                ("run", firmRunJSON(cfg, runID: runID, ranks: comm.size)),
            ]).droppingNonFinite() ?? .object([])
            try writeDurably(json.rendered() + "\n", to: staged("simulate.json"))
        }
        log(String(format: "firms simulate: %d entrants, %d rows in %.2f s (%.2e rows/s on %d rank(s)), wrote %@ (firms.csv, firms.h5, simulate.json)",
                   total, rows, seconds, Double(rows) / max(seconds, 1e-9), comm.size, dir))
        return .converged
    }

    struct SimulationStopped: Error {}

    /// CSV lines of rows in `FirmSample.columns` order (country indices as names).
    static func csv(_ values: [Double], names: [String]) -> String {
        let width = FirmSample.columns.count
        var text = ""
        text.reserveCapacity(values.count * 14)
        var r = 0
        while r < values.count {
            text += String(Int(values[r])); text += ","
            text += names[Int(values[r + 1])]; text += ","
            text += names[Int(values[r + 2])]
            for k in 3..<width { text += ","; text += "\(values[r + k])" }
            text += "\n"
            r += width
        }
        return text
    }
}
