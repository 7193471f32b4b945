import Foundation

/// The `hat` executable built next to the tests (release or debug), or $HAT_BINARY.
public let hatBinary: String = {
    if let path = ProcessInfo.processInfo.environment["HAT_BINARY"] { return path }
    for config in ["release", "debug"] {
        let path = packageRoot.appendingPathComponent(".build/\(config)/hat").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return packageRoot.appendingPathComponent(".build/release/hat").path
}()

public struct RunResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status; self.stdout = stdout; self.stderr = stderr
    }
}

/// Run a command. The child's environment drops the OMPI_*/PMIX_* variables that MPI_Init puts into this
/// process (a child mpirun inheriting them fails silently, PLATFORM-NOTES.md) and allows mpirun as root.
public func runProcess(_ executable: String, _ arguments: [String], cwd: String? = nil, timeout: Double? = nil,
                       stderrPath: String? = nil, stdoutPath: String? = nil, environment: [String: String] = [:],
                       onStart: ((Process) -> Void)? = nil) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_") }
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
    env.merge(environment) { _, new in new }
    p.environment = env
    // Capture into files (no pipe to fill up, nothing shared with another thread).
    let dir = FileManager.default.temporaryDirectory
    let outURL = dir.appendingPathComponent("hat-out-\(UUID().uuidString)")
    let errURL = dir.appendingPathComponent("hat-err-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath ?? outURL.path))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath ?? errURL.path))
    try p.run()
    onStart?(p)
    if let timeout {
        // A hang is a failure: end the process (and its children) after `timeout` seconds, status -9.
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            return RunResult(status: -9, stdout: "", stderr: "timed out after \(timeout) s")
        }
    }
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus,
                     stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                     stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}

/// `hat` as a single process (MPI as a singleton).
public func hat(_ arguments: [String], timeout: Double? = 600) throws -> RunResult {
    try runProcess(hatBinary, arguments, timeout: timeout)
}

/// `hat` under `mpirun -np ranks`.
public func mpirun(ranks: Int, _ arguments: [String]) throws -> RunResult {
    try runProcess("/usr/bin/mpirun", ["-np", "\(ranks)", hatBinary] + arguments)
}

public func readJSON(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// summary.json text without the fields that legitimately differ between runs (rank count, timing,
/// memory, the SLURM job; every timing is a `…wall_seconds` field on its own line). Doubles are printed in shortest
/// round-trip form, so equal text means bitwise-equal numbers.
public func summaryTextWithoutRunFields(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        .filter { !$0.contains("\"ranks\"") && !$0.contains("wall_seconds\"") && !$0.contains("\"peak_memory_mib\"") && !$0.contains("\"run_id\"")
            && !$0.contains("\"slurm_job_id\"") && !$0.contains("\"layout\"") && !$0.contains("\"load_imbalance\"")
            && !$0.contains("\"rank_loads\"") }
        // Without trailing commas: a dropped last field leaves one on the field before it.
        .map { $0.hasSuffix(",") ? String($0.dropLast()) : String($0) }
        .joined(separator: "\n")
}

/// One `hat solve` run of `summaries(config:ranks:extraArguments:)`.
public struct RankRun {
    public var ranks: Int
    public var result: RunResult
    /// summary.json as parsed.
    public var summary: [String: Any]
    /// summary.json's text without the run fields (`summaryTextWithoutRunFields`).
    public var text: String
    /// The names in the output folder after the run.
    public var outputs: [String]
}

/// A `hat solve` that did not exit 0 or wrote no readable summary.json.
public struct SolveFailure: Error, CustomStringConvertible {
    public var ranks: Int
    public var result: RunResult
    public var description: String { "hat solve on \(ranks) rank(s) exited \(result.status): \(result.stderr)" }
}

/// Solve `config` (a path) under `mpirun -np P` for every P in `ranks`, each into a fresh temporary output
/// folder that is removed afterwards, and collect the summaries. Throws `SolveFailure` for a run that does
/// not exit 0.
public func summaries(config: String, ranks: [Int] = [1, 2, 3], extraArguments: [String] = []) throws -> [RankRun] {
    try ranks.map { p in
        let out = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try mpirun(ranks: p, ["solve", config, "--out", out] + extraArguments)
        guard r.status == 0 else { throw SolveFailure(ranks: p, result: r) }
        return RankRun(ranks: p, result: r, summary: try readJSON(out + "/summary.json"),
                       text: try summaryTextWithoutRunFields(out + "/summary.json"),
                       outputs: ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).sorted())
    }
}
