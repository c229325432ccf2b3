/**
 * The container image of the database tasks that need PostgreSQL client binaries (backup,
 * verify-backup, restore-drill): built from image/Dockerfile with pg_dump of the server's major
 * version, pushed to a private ECR repository that scans on push and keeps the last images only.
 * The same image runs as a Lambda function or as a Fargate task.
 */
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";

export interface TaskImageArgs {
  /** PostgreSQL major version of the client binaries (the server's, or newer). */
  pgMajor: number;
  /** Images kept in the repository; older ones expire. */
  keepImages?: number;
  /** Build platform: Lambda and Fargate functions here run on arm64. */
  platform?: "linux/arm64" | "linux/amd64";
  tags?: Record<string, string>;
}

export const IMAGE_CONTEXT = path.resolve(__dirname, "..");

export class TaskImage extends pulumi.ComponentResource {
  public readonly repositoryUrl: pulumi.Output<string>;
  public readonly repositoryArn: pulumi.Output<string>;
  /** Digest-pinned reference (`repo@sha256:...`): a function updates only when the image really changed. */
  public readonly imageUri: pulumi.Output<string>;

  constructor(name: string, args: TaskImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("regime:task:TaskImage", name, {}, opts);
    const repo = new aws.ecr.Repository(
      name,
      {
        name,
        imageScanningConfiguration: { scanOnPush: true },
        imageTagMutability: "IMMUTABLE",
        encryptionConfigurations: [{ encryptionType: "KMS" }],
        forceDelete: false,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.ecr.LifecyclePolicy(
      name,
      {
        repository: repo.name,
        policy: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              description: `keep the last ${args.keepImages ?? 10} images`,
              selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: args.keepImages ?? 10 },
              action: { type: "expire" },
            },
          ],
        }),
      },
      { parent: this },
    );
    const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent: this });
    const image = new docker.Image(
      name,
      {
        // The tag is the content: the build arguments and the task code's version; the digest pins it.
        imageName: pulumi.interpolate`${repo.repositoryUrl}:pg${args.pgMajor}`,
        build: {
          context: IMAGE_CONTEXT,
          dockerfile: path.join(IMAGE_CONTEXT, "image", "Dockerfile"),
          platform: args.platform ?? "linux/arm64",
          args: { PG_MAJOR: String(args.pgMajor) },
        },
        registry: { server: repo.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) },
      },
      { parent: this },
    );
    this.repositoryUrl = repo.repositoryUrl;
    this.repositoryArn = repo.arn;
    this.imageUri = image.repoDigest;
    this.registerOutputs({ repositoryUrl: this.repositoryUrl, repositoryArn: this.repositoryArn, imageUri: this.imageUri });
  }
}
