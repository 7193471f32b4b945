import Foundation
import TestSupport
import XCTest

struct ClusterUnavailable: Error, CustomStringConvertible {
    let problem: String
    var description: String { "no SLURM cluster: \(problem)" }
}

/// The job scripts on a real one-machine SLURM (slurm/local-cluster.sh: munged, slurmctld, slurmd from
/// Debian's slurm-wlm, installed when missing). The cluster is started once for the class and stopped in
/// the class tearDown, which XCTest runs also when a test fails.
final class SlurmJobTests: XCTestCase {
    static let clusterDirectory = "/tmp/hat-slurm-tests"
    /// The partition slurm/local-cluster.sh creates. The job scripts leave the partition to the site's
    /// default, so every submission names it on the sbatch command line, as a user at a site would.
    static let partition = "debug"
    nonisolated(unsafe) static var startProblem: String?
    static var environment: [String: String] {
        ["SLURM_CONF": clusterDirectory + "/etc/slurm.conf", "HAT": hatBinary]
    }

    override class func setUp() {
        super.setUp()
        let script = packageRoot.appendingPathComponent("slurm/local-cluster.sh").path
        do {
            let r = try runProcess("/bin/bash", [script, "start", clusterDirectory], timeout: 900)
            if r.status != 0 { startProblem = "local-cluster.sh start exited \(r.status): \(r.stdout) \(r.stderr)" }
        } catch {
            startProblem = "local-cluster.sh start: \(error)"
        }
    }

    override class func tearDown() {
        let script = packageRoot.appendingPathComponent("slurm/local-cluster.sh").path
        _ = try? runProcess("/bin/bash", [script, "stop", clusterDirectory], timeout: 120)
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let problem = Self.startProblem { throw ClusterUnavailable(problem: problem) }
    }

    /// A SLURM client command from the package root, with the cluster's configuration.
    func slurm(_ command: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 900) throws -> RunResult {
        try runProcess("/usr/bin/" + command, arguments, cwd: packageRoot.path, timeout: timeout,
                       environment: Self.environment.merging(environment) { _, new in new })
    }

    /// `sbatch --partition=debug ARGUMENTS`, with the cluster's configuration.
    func sbatch(_ arguments: [String], environment: [String: String]) throws -> RunResult {
        try slurm("sbatch", ["--partition=\(Self.partition)"] + arguments, environment: environment)
    }

    /// `sbatch --wait`: submit and block until the job (every task of an array) ended; its exit status.
    func submitAndWait(_ arguments: [String], environment: [String: String]) throws -> RunResult {
        try sbatch(["--wait"] + arguments, environment: environment)
    }

    /// `scontrol show job -o ID` as key → value.
    func job(_ id: String) throws -> [String: String] {
        let r = try slurm("scontrol", ["show", "job", "-o", id], timeout: 60)
        var fields: [String: String] = [:]
        for word in r.stdout.split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        return fields
    }

    func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no \(path))" }

    /// A 2-task solve.sbatch job (srun --mpi=pmix) writes the same summary.json numbers as a direct mpirun.
    func testSolveJobMatchesDirectMpirun() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = configPath("two-country.toml")
        let r = try submitAndWait(["--ntasks=2", "--output=\(dir)/solve-%j.out", "slurm/solve.sbatch"],
                                  environment: ["CONFIG": config, "OUT": dir + "/slurm"])
        XCTAssertEqual(r.status, 0, "\(r.stdout) \(r.stderr) \(contents(dir))")
        let direct = try mpirun(ranks: 2, ["solve", config, "--out", dir + "/direct"])
        XCTAssertEqual(direct.status, 0, direct.stderr)
        let viaSlurm = try readJSON(dir + "/slurm/summary.json")
        XCTAssertEqual(viaSlurm["ranks"] as? Int, 2)
        XCTAssertEqual(try summaryTextWithoutRunFields(dir + "/slurm/summary.json"),
                       try summaryTextWithoutRunFields(dir + "/direct/summary.json"))
    }

    /// A 4-point job array of the small sweep, collected by a dependent job: 4 converged rows, each equal to
    /// the same point run on its own, and the same table as `mpirun -np 2 hat sweep SPEC` (rank groups).
    func testArraySweepEqualsSinglePointsAndRankGroups() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = packageRoot.appendingPathComponent("jobs/sigma-gamma-small.toml").path
        let env = ["SPEC": spec, "OUT": dir + "/array"]
        let array = try submitAndWait(["--array=0-3", "--ntasks=1", "--output=\(dir)/sweep-%A_%a.out", "slurm/sweep.sbatch"], environment: env)
        XCTAssertEqual(array.status, 0, "\(array.stdout) \(array.stderr)")
        let collect = try submitAndWait(["--ntasks=1", "--output=\(dir)/collect-%j.out", "slurm/sweep.sbatch"],
                                        environment: env.merging(["MODE": "collect"]) { _, new in new })
        XCTAssertEqual(collect.status, 0, collect.stderr)
        let table = try readSweepTable(dir + "/array/sweep.csv")
        XCTAssertEqual(table.count, 4)
        XCTAssertEqual(table.map { $0["status"]! }, Array(repeating: "converged", count: 4), "\(table)")
        XCTAssertEqual(table.map { $0["index"]! }, ["0", "1", "2", "3"])

        // Each point on its own (from the base start, in its own folder).
        for k in 0..<4 {
            let single = try hat(["sweep", spec, "--point", "\(k)", "--out", dir + "/single-\(k)"])
            XCTAssertEqual(single.status, 0, single.stderr)
            let row = try readSweepTable(dir + "/array/sweep.csv")[k]
            let collected = try hat(["sweep", spec, "--collect", "--out", dir + "/single-\(k)"])
            XCTAssertEqual(collected.status, 3)                  // the other three are missing there
            let own = try readSweepTable(dir + "/single-\(k)/sweep.csv")[k]
            let difference = try XCTUnwrap(sweepTableDifference([row], [own]), "point \(k): \(row) vs \(own)")
            XCTAssertLessThan(difference, 1e-6, "point \(k)")
        }
        // Every point over 2 rank groups.
        let groups = try mpirun(ranks: 2, ["sweep", spec, "--out", dir + "/groups"])
        XCTAssertEqual(groups.status, 0, groups.stderr)
        XCTAssertTrue(groups.stderr.contains("over 2 rank group(s)"), groups.stderr)
        let other = try readSweepTable(dir + "/groups/sweep.csv")
        let difference = try XCTUnwrap(sweepTableDifference(table, other))
        XCTAssertLessThan(difference, 1e-6)
        print("sweep tables: largest relative difference array vs rank groups \(difference)")
    }

    /// calibrate.sbatch with a limit too short to finish: SLURM signals the job before the limit, hat
    /// checkpoints and exits 75, the job requeues itself and goes on with --resume until the calibration
    /// converged, with the parameters of an uninterrupted run (bit for bit).
    func testCalibrateJobIsSignalledRequeuedAndFinishesLikeAnUninterruptedRun() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // About 50 s on one rank: a larger grid and a farther start than configs/ek19-calibrate.toml.
        let sets = ["calibration.shift_distance=-0.4", "calibration.shift_log_tfp=0.2", "calibration.checkpoint_every_seconds=0",
                    "grid.assets=150"]
        let config = configPath("ek19-calibrate.toml")
        // The limit is 1 minute and the warning is asked 50 s before it: SLURM sends it 10-40 s into each run
        // (its time-limit check runs every 30 s), long before the calibration could finish.
        let id = try sbatch(["--parsable", "--ntasks=1", "--time=1", "--signal=B:USR1@50",
                             "--output=\(dir)/calibrate.out", "slurm/calibrate.sbatch"],
                            environment: ["CONFIG": config, "OUT": dir + "/requeued",
                                          "EXTRA": sets.map { "--set \($0)" }.joined(separator: " ")])
        XCTAssertEqual(id.status, 0, id.stderr)
        let jobID = id.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // Meanwhile the uninterrupted reference, outside SLURM.
        let reference = try hat(["calibrate", config, "--out", dir + "/reference"] + sets.flatMap { ["--set", $0] })
        XCTAssertEqual(reference.status, 0, reference.stderr)

        let deadline = Date().addingTimeInterval(900)
        var state = "", restarts = 0
        var pendingSince: (restarts: Int, since: Date)?
        while Date() < deadline {
            let info = try job(jobID)
            state = info["JobState"] ?? ""
            restarts = Int(info["Restarts"] ?? "0") ?? 0
            if ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"].contains(state) { break }
            // A requeued job waits about two minutes before it may start again (SLURM's BeginTime, which covers
            // the revocation of the previous run's credential); let it start sooner, but not within the same
            // seconds as its requeue: slurmd compares credential times to the second and would refuse the
            // restart ("Job credential revoked").
            if state == "PENDING", info["Reason"] == "BeginTime" {
                if pendingSince?.restarts != restarts { pendingSince = (restarts, Date()) }
                if Date().timeIntervalSince(pendingSince!.since) >= 3 {
                    _ = try slurm("scontrol", ["update", "JobId=\(jobID)", "StartTime=now"], timeout: 60)
                }
            }
            sleep(1)
        }
        let log = contents(dir + "/calibrate.out")
        XCTAssertEqual(state, "COMPLETED", log)
        XCTAssertGreaterThanOrEqual(restarts, 1, log)
        XCTAssertTrue(log.contains("USR1: asking hat to checkpoint and stop"), log)
        XCTAssertTrue(log.contains("stopped at a checkpoint: requeueing"), log)
        XCTAssertTrue(log.contains("resuming from"), log)
        XCTAssertTrue(log.contains("hat calibrate finished"), log)
        let calibration = try readJSON(dir + "/requeued/calibration.json")
        XCTAssertEqual(calibration["status"] as? String, "converged")
        XCTAssertNotNil(calibration["resumed_from"] as? String)
        XCTAssertEqual(contents(dir + "/requeued/parameters.csv"), contents(dir + "/reference/parameters.csv"))
        XCTAssertEqual(contents(dir + "/requeued/wage-guess.csv"), contents(dir + "/reference/wage-guess.csv"))
        print("calibrate.sbatch: \(restarts) requeue(s)")
    }
}
