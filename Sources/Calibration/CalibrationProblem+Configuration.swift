import Gravity
import HATConfig

extension CalibrationProblem {
    /// The calibration a configuration describes (nil without a world built from data): the data world,
    /// the tariffs, the model, the inner equilibrium and the outer settings of `[calibration]`, and the
    /// start vector Θ₀ — `calibration.start` or the world's parameters — with the `calibration.shift_*`
    /// shifts added block by block. The one place where a configuration becomes a calibration problem.
    public init?(configuration cfg: RunConfiguration) {
        guard let source = cfg.dataWorld else { return nil }
        let settings = cfg.calibration
        self.init(dataWorld: source.world, tariffs: cfg.world.tariffs, model: cfg.model, equilibrium: cfg.equilibrium,
                  tolerance: settings.tolerance, maxIterations: settings.maxIterations,
                  jacobianStep: settings.jacobianStep, checkpointEverySeconds: settings.checkpointEverySeconds,
                  theta0: Self.startVector(settings.start ?? source.parameters.vector, shiftedBy: settings.startShifts,
                                           countries: source.world.countries))
        supply = cfg.world.supply
    }

    /// The key that names the start vector in an error: the start file, else the first shift that moved
    /// it, else the world's parameters.
    public static func startKey(_ settings: CalibrationSettings) -> String {
        if settings.start != nil { return "calibration.start" }
        let s = settings.startShifts
        if s.logTFP != 0 { return "calibration.shift_log_tfp" }
        if s.thetaM != 0 { return "calibration.shift_theta_m" }
        if s.distance != 0 { return "calibration.shift_distance" }
        if !s.isZero { return "calibration.shift_dummies" }
        return "world.parameters"
    }

    /// Θ with the shifts added to its blocks (layout of `TradeCostParameters.vector`): the M − 1 log TFPs,
    /// the M − 1 importer effects, the six distance bins, the four dummies.
    public static func startVector(_ theta: [Double], shiftedBy shifts: CalibrationSettings.StartShifts,
                                   countries m: Int) -> [Double] {
        guard !shifts.isZero else { return theta }
        var v = theta
        let k = m - 1
        for i in 0..<k { v[i] += shifts.logTFP; v[k + i] += shifts.thetaM }
        for i in 0..<6 { v[2 * k + i] += shifts.distance }
        for i in 0..<4 { v[2 * k + 6 + i] += shifts.dummies[i] }
        return v
    }
}
