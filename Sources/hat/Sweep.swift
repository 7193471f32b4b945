import ArgumentParser
import Foundation
import HATConfig
import Parallel
import Runs
import Sweeps

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The σε × γ sweep: a calibration and the household elasticities at every point; --target finds the (σε, γ) that hit them.",
        discussion: """
        SPEC is a sweep specification (jobs/sigma-gamma.toml; docs/SWEEPS-AND-SLURM.md). Every point is the calibration of
        sweep.base at its (σε, γ) (with ψ̃ when sweep.calibrate_psi), warm-started from the nearest finished point,
        then the analysed country's elasticities and home shares by income group and expenditure quintile.
        Results live in OUT/points/NNNN/point.json; a point with checkpoints resumes by itself, a finished one is
        not computed again.
          hat sweep SPEC --list              the points and their indices
          hat sweep SPEC --point K           one point on all ranks (a job array task: K = $SLURM_ARRAY_TASK_ID)
          mpirun -np P hat sweep SPEC        every point, spread over rank groups (--groups), then --collect
          hat sweep SPEC --collect           OUT/sweep.csv, sweep.h5, sweep.json: one row per point, the best point
          hat sweep SPEC --target            the (σε, γ) at which poor and median elasticities hit the targets
        Exit codes: 0 every requested point converged, 2 bad input, 3 a point or the target did not converge or
        failed (its row says why), 4 I/O, 75 stopped by SIGTERM/SIGUSR1 at a checkpoint (run it again to go on).
        """)

    @Argument(help: "Sweep specification (TOML).")
    var spec: String

    @Option(help: "Run only point K (0-based, see --list).")
    var point: Int?

    /// What to do instead of running every point (at most one; `--point K` is the other choice).
    enum Mode: EnumerableFlag {
        case collect, target, list

        static func help(for value: Mode) -> ArgumentHelp? {
            switch value {
            case .collect: return "Gather the finished points into OUT/sweep.csv, sweep.h5 and sweep.json."
            case .target: return "Solve for the (σε, γ) at which the poor and median households' elasticities hit [targets]."
            case .list: return "Print the points with their indices and exit."
            }
        }
    }

    @Flag var mode: Mode?

    @Option(help: "Rank groups that run points side by side when every point runs (default: one per rank, at most one per point).")
    var groups: Int?

    @Option(help: "Sweep folder (overrides sweep.out).")
    var out: String?

    func validate() throws {
        if let mode, point != nil { throw ValidationError("give at most one of --point, --collect, --target, --list (got --point and --\(mode))") }
        if let point, point < 0 { throw ValidationError("--point must be >= 0 (got \(point))") }
        if let groups, groups < 1 { throw ValidationError("--groups must be >= 1 (got \(groups))") }
        if groups != nil && (point != nil || mode != nil) {
            throw ValidationError("--groups applies only when every point runs (no --point, --collect, --target or --list)")
        }
    }

    func run() throws {
        StopSignal.install()
        var specification = try SweepSpecification.load(path: spec)
        if let out {
            guard !out.isEmpty else { throw ConfigError(file: "--out", key: "", problem: "the sweep folder must not be empty") }
            specification.outputDirectory = URL(fileURLWithPath: out).standardizedFileURL.path
        }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: specification.outputDirectory, isDirectory: &isFolder), !isFolder.boolValue {
            throw ConfigError(file: out == nil ? spec : "--out", key: out == nil ? "sweep.out" : "",
                              problem: "\(specification.outputDirectory) exists and is not a folder")
        }
        if mode == .collect, !FileManager.default.fileExists(atPath: specification.outputDirectory + "/specification.json") {
            throw ConfigError(file: out == nil ? spec : "--out", key: out == nil ? "sweep.out" : "",
                              problem: "\(specification.outputDirectory) holds no sweep of this specification to collect (no specification.json)")
        }
        if let point, point >= specification.points.count {
            throw ConfigError(file: "--point", key: "", problem: "point \(point) does not exist: \(spec) has \(specification.points.count) points (0...\(specification.points.count - 1))")
        }
        if mode == .list {
            if MPIEnvironment.launcherRank == 0 {
                print("index  sigma_eps  gamma")
                for (k, p) in specification.points.enumerated() {
                    print(String(format: "%5d  %9.10g  %6.10g", k, p.sigmaEps, p.gamma))
                }
                if !Console.flushOutput() {
                    throw HatFailure("cannot write the list of points to standard output (closed or full)", code: HatExit.io)
                }
            }
            return
        }
        try SweepRun.checkBase(specification)
        let comm = MPIEnvironment.world()
        if let groups, groups > comm.size {
            throw ConfigError(file: "--groups", key: "", problem: "\(groups) groups need at least \(groups) ranks (running on \(comm.size))")
        }
        let log = commandLogger(comm)
        let sweep = try SweepRun(spec: specification, communicator: comm, log: log)
        let code: Int32
        switch (mode, point) {
        case (.collect?, _): code = try sweep.collect()
        case (.target?, _): code = try sweep.target()
        case (.list?, _): code = 0                       // listed above
        case (nil, let point?): code = try sweep.runPoint(point)
        case (nil, nil): code = try sweep.runAll(groups: groups)
        }
        finish(exitCode: code)
    }
}
