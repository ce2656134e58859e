// docker buildx bake            -> the shims image for amd64 and arm64
// docker buildx bake packages   -> the npm tarballs in ./dist/packages

variable "TAG" {
  default = "latest"
}

variable "REGISTRY" {
  default = "ghcr.io/runwasi-ts"
}

group "default" {
  targets = ["shims"]
}

target "_common" {
  context    = "."
  dockerfile = "Dockerfile"
  args = {
    NODE_VERSION = "20"
  }
}

target "shims" {
  inherits  = ["_common"]
  target    = "shims"
  tags      = ["${REGISTRY}/runwasi-shims:${TAG}"]
  platforms = ["linux/amd64", "linux/arm64"]
}

target "packages" {
  inherits = ["_common"]
  target   = "packages"
  output   = ["type=local,dest=dist/packages"]
}

// docker buildx bake node-installer -> the Kubernetes node installer image (deploy/node-installer)
target "node-installer" {
  context    = "."
  dockerfile = "deploy/node-installer/Dockerfile"
  contexts = {
    packages = "target:packages"
  }
  args = {
    NODE_VERSION = "20"
  }
  tags      = ["${REGISTRY}/runwasi-node-installer:${TAG}"]
  platforms = ["linux/amd64", "linux/arm64"]
}
