// Small line icons drawn as SVG (no icon font, no emoji font needed).

const SVG = 'http://www.w3.org/2000/svg';

/** The forum's icons (name → SVG path data), which the drive draws too. */
export const ICON_PATHS = {
  lock: ['M7 11V8a5 5 0 0 1 10 0v3', 'M5 11h14v10H5z'],
  comment: ['M4 5h16v11H9l-5 4z'],
  clock: ['M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18', 'M12 7v5l3 2'],
  flame: ['M12 3c1 4 5 6 5 11a5 5 0 0 1-10 0c0-3 2-4 2-7c2 1 3 3 3 5'],
  download: ['M12 4v11', 'M7 10l5 5l5-5', 'M5 20h14'],
  reply: ['M10 7L5 12l5 5', 'M5 12h9a5 5 0 0 1 5 5v1'],
  hash: ['M9 4L7 20', 'M17 4l-2 16', 'M4 9h16', 'M3 15h16'],
  copy: ['M9 9h11v11H9z', 'M5 15H4V4h11v1'],
};

/**
 * An icon function over a set of paths (name → SVG path data). An app that draws more icons than
 * the forum makes its own from the forum's paths and its own.
 */
export function iconSet(paths) {
  return (name, label) => {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', `icon icon-${name}`);
    svg.setAttribute('aria-hidden', label ? 'false' : 'true');
    if (label) svg.setAttribute('aria-label', label);
    for (const d of paths[name] ?? []) {
      const path = document.createElementNS(SVG, 'path');
      path.setAttribute('d', d);
      svg.append(path);
    }
    return svg;
  };
}

export const icon = iconSet(ICON_PATHS);
