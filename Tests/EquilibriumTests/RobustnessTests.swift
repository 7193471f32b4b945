import Equilibrium
import Foundation
import HATConfig
import Parallel
import TestSupport
import XCTest

/// Issue 6: every shipped small configuration under every closure, from a grid of starting points, must reach
/// the same root (max-abs difference of wages, R and β ≤ 1e-9), or, in noise-floor cases, stop with the
/// documented noise-floor reason. Prints converged/total and the median and maximum world evaluations.
final class RobustnessTests: XCTestCase {
    static let configs = ["two-country.toml", "two-country-log.toml", "three-country.toml", "four-country-log.toml",
                          "five-country.toml"]
    static let rates = [0.98, 1.00, 1.03, 1.06]
    static let betas = [0.80, 0.83, 0.85, 0.88, 0.90, 0.92, 0.95, 0.97]
    /// Wage starts: all equal, and ±30 % with alternating signs either way round.
    static func wageStarts(_ m: Int) -> [[Double]] {
        [[Double](repeating: 1, count: m),
         (0..<m).map { $0 % 2 == 0 ? 1.3 : 0.7 },
         (0..<m).map { $0 % 2 == 0 ? 0.7 : 1.3 }]
    }

    struct Outcome {
        var start: String
        var result: EquilibriumResult
    }

    func testEveryStartReachesTheSameRoot() throws {
        let comm = MPIEnvironment.world()
        var total = 0, converged = 0, noiseFloor = 0
        var evaluations: [Int] = []
        var failures: [String] = []
        for name in Self.configs {
            for closure in Closure.allCases {
                let base = try ConfigurationLoader.load(path: configPath(name),
                                                        overrides: ["equilibrium.closure=\"\(closure.rawValue)\""])
                let m = base.world.count
                var starts: [(String, Double, Double)] = []      // label, rate, beta
                if closure == .fixedRate {
                    for b in Self.betas { starts.append(("beta0=\(b)", 1.01, b)) }
                } else {
                    for r in Self.rates { starts.append(("R0=\(r)", r, base.equilibrium.start.beta)) }
                }
                var outcomes: [Outcome] = []
                for (label, rate, beta) in starts {
                    for (k, wages) in Self.wageStarts(m).enumerated() {
                        var options = base.equilibrium
                        options.closure = MarketClosure(closure, rate: rate, beta: beta)
                        options.start = EquilibriumStart(wages: wages, rate: rate, beta: beta)
                        let evaluator = try WorldEvaluator(world: base.world, model: base.model, communicator: comm)
                        let result = try solveEquilibrium(evaluator: evaluator, options: options)
                        total += 1
                        evaluations.append(result.evaluations)
                        let start = "\(name) \(closure.rawValue) \(label) wages#\(k)"
                        if result.converged {
                            converged += 1
                            outcomes.append(Outcome(start: start, result: result))
                        } else if result.reason == .noiseFloor {
                            noiseFloor += 1
                        } else {
                            failures.append("\(start): \(result.reason.rawValue), residual \(result.residualMax)")
                        }
                    }
                }
                // One root: compare every converged start with the first.
                if let first = outcomes.first {
                    for o in outcomes.dropFirst() {
                        let a = first.result.prices, b = o.result.prices
                        let gap = zip(a.wages + a.rates + [a.beta], b.wages + b.rates + [b.beta]).map { abs($0 - $1) }.max()!
                        if gap > 1e-9 { failures.append("\(o.start): a different root than \(first.start) (gap \(gap))") }
                    }
                }
            }
        }
        let sorted = evaluations.sorted()
        print(String(format: "robustness: %d/%d converged, %d stopped at the noise floor; world evaluations median %d, max %d",
                     converged, total, noiseFloor, sorted[sorted.count / 2], sorted.last!))
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }
}
