import ArgumentParser
import Benchmarks
import Foundation
import Runs
import HATConfig
import Output
import Parallel

/// Timing benchmarks (not tests): prints medians and writes JSON.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark the household kernel, a 19-country world evaluation and the two-country equilibrium.",
        discussion: """
        Cases: a cold and a warm household solve of a 19-variety problem (N_a 100, S 10, tolerance 1e-10) and its
        distribution; household_steady_state_1_variety, the one-variety problem other toolkits solve (N_a 100 on
        [-0.5, 8], S 5x2, beta 0.93, gamma 1.45, R 1.01, w = p = 1, tolerances 1e-10: policy plus distribution);
        one world evaluation of a synthetic 19-country world over the ranks, by whole countries and with grid
        blocks (run under mpirun to measure scaling); the two-country equilibrium of configs/two-country.toml.
        --large adds the same household solve and world evaluation on the large grid (N_a 1000, S 10x5).
        Medians over repetitions.
        """)

    @Option(help: "Repetitions per case (the median is reported), 1 to 1000.")
    var repetitions = 9

    @Option(help: "Write the results as JSON to this file (root rank).")
    var json = "out/bench.json"

    @Option(help: "Also time this configuration's equilibrium from its initial guess and from that guess with every wage perturbed by ±5 % (alternating signs), e.g. configs/ek19-baseline.toml.")
    var equilibrium: String?

    @Flag(help: "Also time the large grid (N_a 1000, S 50): a cold 19-variety household solve and a world evaluation.")
    var large = false

    @OptionGroup var overrides: OverrideOptions

    func validate() throws {
        guard (1...1000).contains(repetitions) else {
            throw ValidationError("--repetitions must be between 1 and 1000 (got \(repetitions))")
        }
        if equilibrium == nil && !overrides.values.isEmpty {
            throw ValidationError("--set needs --equilibrium (it overrides a key of that configuration)")
        }
    }

    func run() throws {
        // Everything that can be wrong with the arguments is found before any timing: the configuration of
        // --equilibrium and the JSON file's folder.
        let equilibriumConfig = try equilibrium.map { try ConfigurationLoader.load(path: $0, overrides: overrides.values) }
        let jsonFolder = try RunFolder.prepare(URL(fileURLWithPath: json).deletingLastPathComponent().path,
                                               file: "--json", key: "")
        let comm = MPIEnvironment.world()
        let suite = BenchmarkSuite(repetitions: repetitions, large: large,
                                   equilibrium: equilibriumConfig.map { (equilibrium!, $0) }, communicator: comm)
        let rows = try suite.run()
        guard comm.isRoot else { return }
        let report = BenchmarkSuite.report(rows, ranks: comm.size, repetitions: repetitions)
        for line in report.lines { print(line) }
        do {
            try writeAtomically(report.json.rendered() + "\n", to: json)
        } catch {
            jsonFolder.abandon()
            throw error
        }
        print("wrote \(json)")
    }
}
