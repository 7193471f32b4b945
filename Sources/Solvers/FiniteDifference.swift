/// How a one-sided difference quotient steps along one coordinate: the one convention behind every
/// finite-difference Jacobian in hat (`HybridRootFinder`'s columns, the calibration's implicit-function
/// columns, the sweep target's Newton). Each caller states its choices here instead of writing the step
/// out again, and each keeps the bits it always had.
///
/// Column j of the Jacobian of F at x, F(x) = f:
/// 1. the nominal step h = `size.nominal(at: x_j)`;
/// 2. the point x with x_j replaced by fl(x_j + h) (floating-point addition, the point actually evaluated);
/// 3. when F is not finite there (an infeasible trial point) and `backward` allows it, the point
///    fl(x_j − h_b) instead, h_b being the forward step taken (`.mirrorTaken`) or h (`.mirrorNominal`);
/// 4. the quotient (F(point) − f) / d, with d the step taken, fl(x_j ± h) − x_j (`.taken`: the rounding of
///    the point does not tilt the slope), or the signed nominal step ±h (`.nominal`).
public struct DifferenceStep: Sendable, Equatable {
    /// The nominal step along a coordinate.
    public enum Size: Sendable, Equatable {
        /// h = ε · max(|x_j|, floor): scales with the coordinate (MINPACK's convention); the floor gives an
        /// unknown near 0 a usable step (floor 0: none).
        case relative(Double, floor: Double)
        /// h, whatever x_j: unknowns in logs and parameters whose scale is known.
        case absolute(Double)

        public func nominal(at value: Double) -> Double {
            switch self {
            case let .relative(epsilon, floor): return epsilon * max(abs(value), floor)
            case let .absolute(h): return h
            }
        }
    }

    /// Where the difference goes when the forward point cannot be evaluated (F not finite there).
    public enum Backward: Sendable, Equatable {
        /// Nowhere: the forward quotient is returned, and `Column.finite` says it came from a bad point.
        case none
        /// To x_j minus the forward step taken.
        case mirrorTaken
        /// To x_j minus the nominal step.
        case mirrorNominal
    }

    /// What the quotient divides by.
    public enum Denominator: Sendable, Equatable {
        /// The step taken in floating point, fl(x_j ± h) − x_j.
        case taken
        /// The nominal step, ±h.
        case nominal
    }

    public var size: Size
    public var backward: Backward
    public var denominator: Denominator

    public init(_ size: Size, backward: Backward, denominator: Denominator = .taken) {
        self.size = size; self.backward = backward; self.denominator = denominator
    }

    /// A difference column and what it cost.
    public struct Column: Sendable {
        /// (F(point) − f) / d, one entry per residual.
        public var values: [Double]
        /// Residual evaluations used: 1, or 2 after a backward retry.
        public var evaluations: Int
        /// Whether F was finite at the point the quotient used.
        public var finite: Bool
    }

    /// The forward point of column j (steps 1 and 2): x with x_j replaced by fl(x_j + h). A caller that
    /// evaluates it itself (the sweep's ψ̃ secant, whose first slope is this forward quotient over the step
    /// taken) gets the point `column` would evaluate.
    public func forwardPoint(_ j: Int, at x: [Double]) -> [Double] {
        var point = x
        point[j] = x[j] + size.nominal(at: x[j])
        return point
    }

    /// Column j of the Jacobian of F at x (F(x) = f), by the convention above. Any rank or group computing
    /// it from the same x, f and F gets the same bits.
    public func column(_ j: Int, at x: [Double], residual f: [Double],
                       evaluate: ([Double]) throws -> [Double]) rethrows -> Column {
        let h = size.nominal(at: x[j])
        var point = forwardPoint(j, at: x)
        var taken = point[j] - x[j]
        var signed = h
        var fp = try evaluate(point)
        var used = 1
        var finite = fp.allSatisfy { $0.isFinite }
        if !finite && backward != .none {
            point[j] = x[j] - (backward == .mirrorTaken ? taken : h)
            taken = point[j] - x[j]
            signed = -h
            fp = try evaluate(point)
            used += 1
            finite = fp.allSatisfy { $0.isFinite }
        }
        let d = denominator == .taken ? taken : signed
        return Column(values: (0..<f.count).map { (fp[$0] - f[$0]) / d }, evaluations: used, finite: finite)
    }
}
