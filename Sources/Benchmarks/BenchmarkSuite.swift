import Equilibrium
import Foundation
import HATConfig
import HATModel
import Output
import Parallel

/// One timed case of `hat bench`: its name, the wall time of every repetition (seconds) and a note.
public struct BenchmarkCase {
    public var name: String
    public var samples: [Double]
    public var note: String
    public init(_ name: String, _ samples: [Double], _ note: String) { self.name = name; self.samples = samples; self.note = note }

    public var median: Double { Benchmarks.median(samples) }
}

/// The cases of `hat bench` (timing, not tests): the household kernel cold and warm, the distribution,
/// the one-variety steady state, one world evaluation by countries and by grid blocks, the two-country
/// equilibrium, optionally the large grid and a configured equilibrium from two starts.
public struct BenchmarkSuite {
    public var repetitions: Int
    public var large: Bool
    /// `--equilibrium`: a configuration's path and contents, timed from its guess and a perturbed one.
    public var equilibrium: (path: String, config: RunConfiguration)?
    public let communicator: Communicator

    public init(repetitions: Int, large: Bool, equilibrium: (path: String, config: RunConfiguration)?, communicator: Communicator) {
        self.repetitions = repetitions; self.large = large; self.equilibrium = equilibrium; self.communicator = communicator
    }

    /// Every case, in order (collective: the world evaluations and equilibria run on every rank; the
    /// household cases on the root only, which alone has them).
    public func run() throws -> [BenchmarkCase] {
        let comm = communicator
        var rows: [BenchmarkCase] = []
        let world = Benchmarks.syntheticWorld(countries: 19)
        let model = ModelParameters(gamma: 1.45, sigmaEps: 0.33, psiSlope: 0.725, phi: 0.5, amax: 8,
                                    assetPoints: 100, income: .baseline)
        let income = IncomeProcess(model.income)
        let prices = Prices(wages: [Double](repeating: 1, count: 19), rates: [Double](repeating: 1.01, count: 19), beta: 0.93)

        if comm.isRoot {
            // Household: cold solve and warm solve (from the solution at wages 0.1% lower).
            let problem = world.householdProblem(country: 18, model: model, income: income, prices: prices)
            let hh = HouseholdSolver(assets: 100, shocks: income.count, varieties: 19)
            var iterations = 0
            let cold = try Benchmarks.timings(repetitions) { iterations = try hh.solve(problem, tolerance: 1e-10).iterations }
            rows.append(BenchmarkCase("household_cold_19_varieties", cold, "\(iterations) Coleman steps"))
            var shifted = problem
            shifted.wage *= 0.999
            var warmIterations = 0
            let warm = try Benchmarks.timings(repetitions, setup: { try hh.solve(shifted, tolerance: 1e-10) }) {
                warmIterations = try hh.solve(problem, tolerance: 1e-10, warmStart: true).iterations
            }
            rows.append(BenchmarkCase("household_warm_19_varieties", warm, "\(warmIterations) Coleman steps"))
            let dist = StationaryDistribution(assets: 100, shocks: income.count)
            try hh.solve(problem, tolerance: 1e-10)
            var distIterations = 0
            let d = try Benchmarks.timings(repetitions) {
                distIterations = try dist.solve(household: hh, transition: income.transition, tolerance: 1e-10).iterations
            }
            rows.append(BenchmarkCase("distribution_19_varieties", d, "\(distIterations) iterations"))

            // The one-variety steady state of sequence-space toolkits: policy plus stationary distribution.
            let one = HouseholdProblem(assets: assetGrid(points: 100, borrowingLimit: 0.5, top: 8, tfp: 1), income: income,
                                       gamma: 1.45, beta: 0.93, sigma: 1, home: 0, homeQuality: [Double](repeating: 0, count: income.count),
                                       prices: [1], wage: 1, rate: 1.01)
            let oneSolver = HouseholdSolver(assets: 100, shocks: income.count, varieties: 1)
            let oneDist = StationaryDistribution(assets: 100, shocks: income.count)
            var steps = 0, pushes = 0
            let steady = try Benchmarks.timings(repetitions) {
                steps = try oneSolver.solve(one, tolerance: 1e-10).iterations
                pushes = try oneDist.solve(household: oneSolver, transition: income.transition, tolerance: 1e-10).iterations
            }
            rows.append(BenchmarkCase("household_steady_state_1_variety", steady, "\(steps) Coleman steps + \(pushes) distribution iterations"))

            if large {
                let bigModel = Benchmarks.largeModel(model)
                let bigIncome = IncomeProcess(bigModel.income)
                let bigProblem = world.householdProblem(country: 18, model: bigModel, income: bigIncome, prices: prices)
                let big = HouseholdSolver(assets: 1000, shocks: bigIncome.count, varieties: 19)
                var bigIterations = 0
                let t = try Benchmarks.timings(max(1, repetitions / 3)) { bigIterations = try big.solve(bigProblem, tolerance: 1e-10).iterations }
                rows.append(BenchmarkCase("household_cold_19_varieties_large", t, "N_a 1000, S 50, \(bigIterations) Coleman steps"))
            }
        }

        // One world evaluation (collective), household tolerance 1e-10.
        let evaluator = try WorldEvaluator(world: world, model: model, communicator: comm)
        let options = EvaluationOptions(householdTolerance: 1e-10, distributionTolerance: 1e-10)
        let samples = try Benchmarks.timeEvaluations(evaluator, prices: prices, options: options, count: max(3, repetitions / 3))
        rows.append(BenchmarkCase("world_evaluation_19_countries", samples, "\(comm.size) rank(s), household tolerance 1e-10"))

        // The same evaluation with grid blocks: the 19 × S rows cut into equal pieces, one per rank.
        let blocked = try WorldEvaluator(world: world, model: model, communicator: comm, gridBlocks: .on)
        let blockSamples = try Benchmarks.timeEvaluations(blocked, prices: prices, options: options, count: max(3, repetitions / 3))
        rows.append(BenchmarkCase("world_evaluation_19_countries_blocks", blockSamples,
                     "\(comm.size) rank(s), grid blocks: " + blocked.layoutDescription()))

        if large {
            let bigModel = Benchmarks.largeModel(model)
            let bigEvaluator = try WorldEvaluator(world: world, model: bigModel, communicator: comm, gridBlocks: .on)
            let bigSamples = try Benchmarks.timeEvaluations(bigEvaluator, prices: prices, options: options, count: max(1, repetitions / 9))
            let memory = try comm.allGatherV([peakResidentMemoryMiB()])
            rows.append(BenchmarkCase("world_evaluation_19_countries_large", bigSamples,
                         "\(comm.size) rank(s), N_a 1000, S 50, grid blocks; peak memory per rank (MiB) "
                         + memory.map { String(format: "%.0f", $0) }.joined(separator: " ")))
        }

        // Two-country equilibrium of configs/two-country.toml (collective).
        let two = World(names: ["HOME", "FOREIGN"], tfp: [1, 1], labor: [1, 1], tradeCosts: [1, 1.745, 1.745, 1])
        let twoModel = ModelParameters(gamma: 1.5, sigmaEps: 0.25, psiSlope: 0, phi: 0.5, amax: 8,
                                       assetPoints: 100, income: .baseline)
        let eqOptions = EquilibriumOptions(closure: .worldRate(beta: 0.92), start: EquilibriumStart(rate: 1.02, beta: 0.92),
                                           tolerance: 1e-10, maxIterations: 100,
                                           evaluation: EvaluationOptions(householdTolerance: 1e-6, distributionTolerance: 1e-10),
                                           reportingHouseholdTolerance: 1e-10)
        var eqSamples: [Double] = []
        var rate = 0.0
        for _ in 0..<max(3, repetitions / 3) {
            let ev = try WorldEvaluator(world: two, model: twoModel, communicator: comm)
            try comm.barrier()
            let t0 = Date()
            let result = try solveEquilibrium(evaluator: ev, options: eqOptions)
            try comm.barrier()
            eqSamples.append(Date().timeIntervalSince(t0))
            rate = result.prices.rates[0]
        }
        rows.append(BenchmarkCase("equilibrium_two_country", eqSamples, "R = \(rate), includes the reporting evaluation"))

        if let (path, config) = equilibrium {
            let base = config.equilibrium.start.wages ?? [Double](repeating: 1, count: config.world.count)
            for (label, factor) in [("committed", 0.0), ("perturbed_5pct", 0.05)] {
                var options = config.equilibrium
                options.start.wages = base.enumerated().map { $0.element * (1 + ($0.offset % 2 == 0 ? factor : -factor)) }
                var times: [Double] = []
                var note = ""
                for _ in 0..<max(1, repetitions / 3) {
                    let ev = try WorldEvaluator(world: config.world, model: config.model, communicator: comm)
                    try comm.barrier()
                    let t0 = Date()
                    let result = try solveEquilibrium(evaluator: ev, options: options)
                    try comm.barrier()
                    times.append(Date().timeIntervalSince(t0))
                    note = String(format: "%@, %d iterations, %d evaluations, residual %.1e", result.converged ? "converged" : "NOT converged",
                                  result.iterations, result.evaluations, result.residualMax)
                }
                let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                rows.append(BenchmarkCase("equilibrium_\(name)_\(label)", times, note))
            }
        }
        return rows
    }

    /// The report (root): a header, one line per case, and the JSON of bench.json.
    public static func report(_ rows: [BenchmarkCase], ranks: Int, repetitions: Int) -> (lines: [String], json: JSON) {
        let machine = Benchmarks.machineDescription()
        var lines = ["hat bench — \(machine), \(ranks) rank(s), medians of \(repetitions) (world/equilibrium: \(max(3, repetitions / 3)))"]
        for r in rows {
            let label = r.name.padding(toLength: max(44, r.name.count), withPad: " ", startingAt: 0)
            lines.append("  " + label + String(format: "%11.3f ms   (min %.3f, max %.3f)  ", r.median * 1e3, r.samples.min()! * 1e3, r.samples.max()! * 1e3) + r.note)
        }
        let json = JSON.object([
            ("machine", .string(machine)), ("ranks", .integer(ranks)), ("version", .string(hatVersion)),
            ("target_cpu", .string(ProcessInfo.processInfo.environment["HAT_TARGET_CPU"] ?? "native (build default)")),
            ("cases", .object(rows.map { r in
                (r.name, .object([("median_ms", .number(r.median * 1e3)), ("min_ms", .number(r.samples.min()! * 1e3)),
                                  ("samples_ms", .numbers(r.samples.map { $0 * 1e3 })), ("note", .string(r.note))]))
            })),
        ])
        return (lines, json)
    }
}

public enum Benchmarks {
    /// `model` on the large grid of configs/ek19-large.toml: N_a 1000, the baseline income process with 10 × 5
    /// states.
    static func largeModel(_ model: ModelParameters) -> ModelParameters {
        var big = model
        big.assetPoints = 1000
        big.income.persistentStates = 10; big.income.transitoryStates = 5
        return big
    }

    /// A synthetic M-country world: TFP and labour spread around one, trade costs growing with |i − j|.
    public static func syntheticWorld(countries m: Int) -> World {
        let tfp = (0..<m).map { 0.7 + 0.6 * Double($0) / Double(max(m - 1, 1)) }
        let labor = (0..<m).map { 0.5 + Double(($0 * 7) % m) / Double(m) }
        var d = [Double](repeating: 1, count: m * m)
        for i in 0..<m { for j in 0..<m where i != j { d[i * m + j] = 1.5 + 0.05 * Double(abs(i - j)) } }
        return World(names: (1...m).map { "C\($0)" }, tfp: tfp, labor: labor, tradeCosts: d)
    }

    /// Wall times of `count` world evaluations (collective; barriers around each).
    static func timeEvaluations(_ evaluator: WorldEvaluator, prices: Prices, options: EvaluationOptions, count: Int) throws -> [Double] {
        var samples: [Double] = []
        for _ in 0..<count {
            try evaluator.communicator.barrier()
            let t0 = Date()
            _ = try evaluator.evaluate(prices: prices, options: options)
            try evaluator.communicator.barrier()
            samples.append(Date().timeIntervalSince(t0))
        }
        return samples
    }

    static func timings(_ n: Int, setup: () throws -> Void = {}, _ body: () throws -> Void) throws -> [Double] {
        var out: [Double] = []
        for _ in 0..<n {
            try setup()
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            out.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return out
    }

    public static func median(_ x: [Double]) -> Double {
        let s = x.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
    }

    public static func machineDescription() -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
