import ArgumentParser
import Foundation
import HATConfig
import Parallel
import Runs

/// `hat firms …`: commands of firm worlds beyond solve and counterfactual.
struct FirmsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firms",
        abstract: "Firm-level tools for a [firms] configuration (docs/FIRMS.md).",
        subcommands: [Simulate.self])

    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Simulated firm-by-destination data from a solved firm world.",
            discussion: """
            Draws each country's entrants from its productivity distribution (--firms draws in all, split in
            proportion to the entry masses), keeps the active ones and writes one row per (firm, destination
            served): firm_id, origin, destination, productivity, producer sales and the predictors of
            docs/FIRMS.md, into firms.csv and firms.h5 (dataset rows), with simulate.json comparing the
            simulated aggregates with the model's. Seeded; the same bits on any number of ranks; streamed in
            chunks of entrants, so memory does not grow with --firms.
            """)

        @OptionGroup var options: ConfigurationOptions

        @Option(help: "Entrant draws in all, at least 1 (the rows are the active ones' destinations).")
        var firms: Int

        @Option(help: "Seed of the draws (an integer from 0 to 2^63 - 1).")
        var seed: UInt64 = 1

        func validate() throws {
            guard firms >= 1 else { throw ValidationError(ConfigError(file: "--firms", key: "", problem: "must be at least 1 (got \(firms))").description) }
            // The seed is recorded in simulate.json as a JSON integer.
            guard seed <= UInt64(Int64.max) else {
                throw ValidationError(ConfigError(file: "--seed", key: "", problem: "must be at most \(Int64.max) (got \(seed))").description)
            }
            guard firms <= 2_000_000_000 else { throw ValidationError(ConfigError(file: "--firms", key: "", problem: "at most 2e9").description) }
        }

        func run() throws {
            let started = Date()
            StopSignal.install()
            guard options.isFirmWorld else {
                throw ValidationError(ConfigError(file: options.config, key: "firms", problem: "hat firms simulate needs a firm world with households = \"representative\" (a [firms] table; under HAT's households the firms are inside the composites and are not drawn)").description)
            }
            let loaded = try options.loadFirmWorld()
            let comm = MPIEnvironment.world()
            finish(try FirmSimulateJob(loaded: loaded, firms: firms, seed: seed, communicator: comm, log: commandLogger(comm)).run(started: started))
        }
    }
}
