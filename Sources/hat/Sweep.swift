import ArgumentParser
import Equilibrium
import Foundation
import HATConfig
import Output
import Parallel

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The σε × γ sweep: a calibration and the household elasticities at every point; --target finds the (σε, γ) that hit them.",
        discussion: """
        SPEC is a sweep specification (jobs/sigma-gamma.toml; README "Sweeps"). Every point is the calibration of
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

    @Flag(help: "Gather the finished points into OUT/sweep.csv, sweep.h5 and sweep.json.")
    var collect = false

    @Flag(help: "Solve for the (σε, γ) at which the poor and median households' elasticities hit [targets].")
    var target = false

    @Flag(help: "Print the points with their indices and exit.")
    var list = false

    @Option(help: "Rank groups that run points side by side when every point runs (default: one per rank, at most one per point).")
    var groups: Int?

    @Option(help: "Sweep folder (overrides sweep.out).")
    var out: String?

    func validate() throws {
        let modes = [point != nil, collect, target, list].filter { $0 }.count
        guard modes <= 1 else { throw ValidationError("give at most one of --point, --collect, --target, --list") }
        if let point, point < 0 { throw ValidationError("--point must be >= 0 (got \(point))") }
        if let groups, groups < 1 { throw ValidationError("--groups must be >= 1 (got \(groups))") }
        if groups != nil && (point != nil || collect || target || list) {
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
        if collect, !FileManager.default.fileExists(atPath: specification.outputDirectory + "/specification.json") {
            throw ConfigError(file: out == nil ? spec : "--out", key: out == nil ? "sweep.out" : "",
                              problem: "\(specification.outputDirectory) holds no sweep of this specification to collect (no specification.json)")
        }
        if let point, point >= specification.points.count {
            throw ConfigError(file: "--point", key: "", problem: "point \(point) does not exist: \(spec) has \(specification.points.count) points (0...\(specification.points.count - 1))")
        }
        if list {
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
        try checkBase(specification)
        let comm = MPIEnvironment.world()
        if let groups, groups > comm.size {
            throw ConfigError(file: "--groups", key: "", problem: "\(groups) groups need at least \(groups) ranks (running on \(comm.size))")
        }
        let log = Logger(communicator: comm, prefix: "hat: ", sink: { Console.error($0) })
        let sweep = try SweepRun(spec: specification, communicator: comm, log: log)
        let code: Int32
        if collect {
            code = try sweep.collect()
        } else if target {
            code = try sweep.target()
        } else if let point {
            code = try sweep.runPoint(point)
        } else {
            code = try sweep.runAll(groups: groups)
        }
        if code != 0 {
            MPIEnvironment.finalize()
            Foundation.exit(code)
        }
    }

    /// The base configuration with the sweep's overrides must be a calibration of a data world with the
    /// analysed country: otherwise every point would fail the same way, so it is bad input (exit 2) now.
    func checkBase(_ spec: SweepSpecification) throws {
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
}
