/**
 * Renders an SVG to PNG with resvg (the Rust SVG renderer, shipped as a prebuilt binary inside the
 * @resvg/resvg-js npm package), so the calendar picture is rendered on any machine `npm ci` ran on,
 * with no system tool. System fonts are used when present (DejaVu on Debian); without any font the
 * text is left out and the shapes are still drawn.
 */
import { Resvg } from "@resvg/resvg-js";

export interface RenderedPng {
  /** The PNG file's bytes. */
  png: Buffer;
  /** Pixel size of the rendered picture. */
  width: number;
  height: number;
}

/** Renders `svg` at its own size; throws when resvg cannot parse it. */
export function renderSvgToPng(svg: string): RenderedPng {
  const image = new Resvg(svg, { fitTo: { mode: "original" }, logLevel: "off", font: { loadSystemFonts: true } }).render();
  return { png: image.asPng(), width: image.width, height: image.height };
}
