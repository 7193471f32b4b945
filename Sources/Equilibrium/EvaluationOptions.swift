// The options of a world evaluation: the inner solvers' tolerances and iteration limits, and warm starts.

/// Tolerances and limits of one world evaluation.
public struct EvaluationOptions: Sendable, Equatable {
    public var householdTolerance: Double
    public var distributionTolerance: Double
    public var householdMaxIterations: Int = 500
    public var distributionMaxIterations: Int = 5000
    /// Start each household and distribution from the previous evaluation's solution.
    public var warmStart: Bool = false

    public init(householdTolerance: Double, distributionTolerance: Double, warmStart: Bool = false) {
        self.householdTolerance = householdTolerance
        self.distributionTolerance = distributionTolerance
        self.warmStart = warmStart
    }
}
