import type { FeatureDefinitionsInput } from './schema';

/**
 * Drivetrain's example feature set, computed from the ETL pillar's tables (decoded CAN,
 * IMU, events). Drive summaries never expire (a finished drive does not change); the
 * per-second motion view is live data and goes stale after an hour.
 */
const float = (name: string, description: string) => ({ name, type: 'Float64' as const, description });
const count = (name: string, description: string) => ({ name, type: 'Int64' as const, description });

export const DRIVETRAIN_FEATURES: FeatureDefinitionsInput = {
  project: 'drivetrain',
  entities: [
    {
      name: 'drive',
      description: 'One recorded drive (log segment)',
      joinKeys: [{ name: 'drive_id', type: 'String' }],
    },
    {
      name: 'vehicle',
      description: 'One vehicle of the fleet',
      joinKeys: [{ name: 'vehicle_id', type: 'String' }],
    },
  ],
  featureViews: [
    {
      name: 'drive_motion',
      description: 'Speed, acceleration and jerk over a whole drive, from the decoded CAN vehicle speed',
      entity: 'drive',
      sources: ['can_signals'],
      transform: 'drive_motion',
      ttlSeconds: 0,
      features: [
        float('speed_mean_mps', 'mean vehicle speed'),
        float('speed_max_mps', 'maximum vehicle speed'),
        float('speed_p95_mps', '95th percentile of vehicle speed'),
        float('accel_mean_mps2', 'mean longitudinal acceleration (derivative of speed)'),
        float('accel_max_mps2', 'strongest acceleration'),
        float('accel_min_mps2', 'strongest deceleration (most negative)'),
        float('jerk_abs_mean_mps3', 'mean absolute jerk'),
        float('jerk_abs_max_mps3', 'maximum absolute jerk'),
        float('duration_s', 'time between the first and last speed sample'),
        float('distance_m', 'distance travelled (trapezoidal integral of speed)'),
        count('speed_samples', 'speed samples in the drive'),
      ],
    },
    {
      name: 'drive_second_motion',
      description: 'Speed, acceleration and jerk per second of a drive; online holds the latest second',
      entity: 'drive',
      sources: ['can_signals'],
      transform: 'drive_second_motion',
      ttlSeconds: 3_600,
      cacheTtlSeconds: 5,
      features: [
        float('speed_mean_mps', 'mean speed in the second'),
        float('speed_min_mps', 'minimum speed in the second'),
        float('speed_max_mps', 'maximum speed in the second'),
        float('accel_mean_mps2', 'mean acceleration in the second'),
        float('jerk_abs_max_mps3', 'maximum absolute jerk in the second'),
        count('speed_samples', 'speed samples in the second'),
      ],
    },
    {
      name: 'drive_imu',
      description: 'IMU statistics over a drive: specific force and yaw rate',
      entity: 'drive',
      sources: ['imu'],
      transform: 'drive_imu',
      ttlSeconds: 0,
      features: [
        float('accel_norm_mean_mps2', 'mean norm of linear acceleration'),
        float('accel_norm_std_mps2', 'standard deviation of that norm'),
        float('accel_norm_max_mps2', 'maximum norm of linear acceleration'),
        float('lateral_accel_abs_max_mps2', 'maximum absolute lateral (y) acceleration'),
        float('yaw_rate_abs_mean_rps', 'mean absolute yaw rate (angular velocity z)'),
        float('yaw_rate_abs_max_rps', 'maximum absolute yaw rate'),
        count('imu_samples', 'IMU messages in the drive'),
      ],
    },
    {
      name: 'drive_hard_braking',
      description: 'Hard-braking events of a drive, as tagged by the ETL pillar',
      entity: 'drive',
      sources: ['events'],
      transform: 'drive_hard_braking',
      ttlSeconds: 0,
      features: [
        count('hard_brake_count', 'hard-braking events in the drive'),
        float('hard_brake_max_decel_mps2', 'strongest deceleration of those events'),
        float('hard_brake_total_s', 'total time spent braking hard'),
      ],
    },
    {
      name: 'vehicle_hard_braking',
      description: 'Hard-braking events per vehicle over all its drives',
      entity: 'vehicle',
      sources: ['events'],
      transform: 'vehicle_hard_braking',
      ttlSeconds: 30 * 86_400,
      features: [
        count('hard_brake_count', 'hard-braking events over the vehicle drives'),
        count('drives', 'drives with at least one event row'),
        float('hard_brakes_per_drive', 'hard-braking events per drive'),
      ],
    },
  ],
  featureServices: [
    {
      name: 'drive_summary',
      description: 'What a planning or prediction model knows about a finished drive',
      views: [{ view: 'drive_motion' }, { view: 'drive_imu' }, { view: 'drive_hard_braking' }],
      teams: ['perception', 'planning', 'prediction'],
    },
    {
      name: 'drive_live_motion',
      description: 'The latest second of motion of a drive',
      views: [{ view: 'drive_second_motion' }],
      teams: ['planning', 'prediction'],
    },
    {
      name: 'vehicle_safety',
      description: 'Braking behaviour of a vehicle',
      views: [{ view: 'vehicle_hard_braking' }],
      teams: ['planning', 'mapping'],
    },
  ],
};
