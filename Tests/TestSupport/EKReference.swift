/// HAT-SPEC §5.2: the gravity moments of the Eaton–Kortum (2002) data (EK 2002 Table III), to 6 decimals.
public enum EKReference {
    /// The 19 countries in data order.
    public static let countries = ["AUS", "AUT", "BEL", "CAN", "DNK", "FIN", "FRA", "DEU", "GRC", "ITA", "JPN", "NLD",
                                   "NZL", "NOR", "PRT", "ESP", "SWE", "GBR", "USA"]
    /// The six distance-bin effects, nearest bin first.
    public static let distance = [-3.102440, -3.665941, -4.033395, -4.218077, -6.064372, -6.558933]
    /// Border, shared language, European Community, EFTA.
    public static let dummies = [0.303564, 0.510080, 0.035912, 0.536071]
    /// The names of `dummies` in `hat gravity --json`.
    public static let dummyNames = ["border", "language", "european_community", "efta"]
    /// Exporter competitiveness S_j, one per country.
    public static let S = [0.192558, -1.161839, -3.335625, 0.411561, -1.749550, -0.522466, 1.281384, 2.352748, -2.813521,
                           1.781510, 4.198787, -2.189319, -1.197687, -1.346152, -1.573180, 0.303089, 0.009816, 1.374167, 3.983719]
    /// Importer effects θm_i, one per country.
    public static let thetaM = [0.236221, -1.678415, 1.120118, 0.688596, -0.505889, -1.334488, 0.218294, 0.998812, -2.356411,
                                0.070178, 1.584890, 1.004782, 0.066574, -1.000409, -1.206780, -1.156611, -0.024864, 0.816808, 2.458596]
    /// R² of the regression (to within 5e-5).
    public static let rSquared = 0.9757
}
