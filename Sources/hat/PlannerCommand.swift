import ArgumentParser
import Foundation
import Runs
import Parallel

struct Planner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "planner",
        abstract: "The efficient allocation of a configured world (HAT-SPEC 6.6).",
        discussion: """
        The static planner with Pareto weights A_i: consumption, choice probabilities, trade shares and the
        efficient trade elasticities -u'(c) c / sigma_i (Proposition 4). Writes planner.json into the output
        folder. A small root-finding problem (M unknowns): it runs on the first rank.
        """)

    @OptionGroup var options: ConfigurationOptions

    func run() throws {
        let started = Date()
        let loaded = try options.load()
        let comm = MPIEnvironment.world()
        finish(try PlannerJob(loaded: loaded, communicator: comm, log: commandLogger(comm)).run(started: started))
    }
}
