import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct } from 'constructs';
import { GPU_TAINT } from './gpu-node-pools';

export interface ClusterAddOnsProps {
  readonly cluster: eks.ICluster;
  /** Chart version of `nvidia-device-plugin`. */
  readonly nvidiaDevicePluginVersion: string;
  /** Chart version of `kuberay-operator`. */
  readonly kuberayVersion: string;
}

/**
 * The Helm releases that make the cluster a GPU training platform: the NVIDIA device plugin
 * (advertises `nvidia.com/gpu` on GPU nodes) and the KubeRay operator (RayCluster and
 * RayJob custom resources).
 */
export class ClusterAddOns extends Construct {
  public readonly nvidiaDevicePlugin: eks.HelmChart;
  public readonly kuberay: eks.HelmChart;

  constructor(scope: Construct, id: string, props: ClusterAddOnsProps) {
    super(scope, id);
    this.nvidiaDevicePlugin = new eks.HelmChart(this, 'NvidiaDevicePlugin', {
      cluster: props.cluster,
      chart: 'nvidia-device-plugin',
      repository: 'https://nvidia.github.io/k8s-device-plugin',
      version: props.nvidiaDevicePluginVersion,
      release: 'nvidia-device-plugin',
      namespace: 'nvidia-device-plugin',
      createNamespace: true,
      values: {
        // The DaemonSet must run on exactly the nodes the GPU taint keeps everything else off.
        tolerations: [{ ...GPU_TAINT, operator: 'Equal', effect: 'NoSchedule' }],
      },
    });
    this.kuberay = new eks.HelmChart(this, 'KubeRayOperator', {
      cluster: props.cluster,
      chart: 'kuberay-operator',
      repository: 'https://ray-project.github.io/kuberay-helm/',
      version: props.kuberayVersion,
      release: 'kuberay-operator',
      namespace: 'kuberay-system',
      createNamespace: true,
    });
  }
}
