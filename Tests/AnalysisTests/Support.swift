import Analysis
import Equilibrium
import Foundation
import HATConfig
import HATModel
import Parallel
import TestSupport

/// Solve a configuration in this process (MPI as a singleton).
func solve(_ name: String, overrides: [String] = []) throws -> (RunConfiguration, EquilibriumResult, WorldEvaluator) {
    let config = try ConfigurationLoader.load(path: configPath(name), overrides: overrides)
    let evaluator = try WorldEvaluator(world: config.world, model: config.model, communicator: MPIEnvironment.world())
    let result = try solveEquilibrium(evaluator: evaluator, options: config.equilibrium)
    return (config, result, evaluator)
}

/// The analysed household of country `i` at a solved configuration.
func analysed(_ name: String, country i: Int = 0, overrides: [String] = []) throws -> (RunConfiguration, EquilibriumResult, AnalysedHousehold) {
    let (config, result, evaluator) = try solve(name, overrides: overrides)
    let base = try AnalysedHousehold.gather(country: i, from: evaluator, prices: result.prices)
    return (config, result, base)
}
