import Equilibrium
import Foundation
import HATConfig
import Parallel

/// The package root, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func configPath(_ name: String) -> String { packageRoot.appendingPathComponent("configs/\(name)").path }

/// Solve a configuration in this process (MPI as a singleton).
func solve(_ name: String, overrides: [String] = []) throws -> (RunConfiguration, EquilibriumResult, WorldEvaluator) {
    let config = try ConfigurationLoader.load(path: configPath(name), overrides: overrides)
    let evaluator = WorldEvaluator(world: config.world, model: config.model, communicator: MPIEnvironment.world())
    let result = try solveEquilibrium(evaluator: evaluator, options: config.equilibrium)
    return (config, result, evaluator)
}

func temporaryDirectory() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hat-test-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
