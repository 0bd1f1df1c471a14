import { randomUUID } from 'node:crypto';

/**
 * What a device hears, for the demo and the tests: a talker who walks across the room and pauses
 * between sentences, and background noise that drifts. Values follow the documented shapes and
 * ranges (azimuth -70..70 on HDL300/310, coordinates in mm on HDL410).
 */
export class Room {
  private noise = 20;
  private readonly zone = { type: 'Switching', label: 'Zone 1', id: randomUUID() };

  constructor(private readonly model: 'hdl310' | 'hdl410') {}

  /** A sound location body at `now` (epoch ms). */
  soundLocation(now: number): Record<string, unknown> {
    // Across the room and back every 40 s; a sentence of 6 s, then 3 s of quiet.
    const angle = Math.sin((2 * Math.PI * (now % 40_000)) / 40_000) * 60;
    const talking = now % 9_000 < 6_000;
    const powerLevel = talking ? 55 + Math.round(Math.random() * 25) : Math.round(Math.random() * 10);
    const radians = (angle * Math.PI) / 180;
    const body: Record<string, unknown> = { powerLevel, time: new Date(now).toISOString() };
    if (this.model === 'hdl410') body.coordinates = { x: Math.round(Math.sin(radians) * 3000), y: Math.round(Math.cos(radians) * 3000) };
    else body.azimuth = Math.round(angle);
    body.triggeredZones = talking && angle < 0 ? [this.zone] : [];
    body.version = 3;
    body.flags = { powerZeroedReason: 0, speakerActive: false, voiceAmpModeActive: false, voiceDetected: talking };
    return body;
  }

  /** A device metrics body: the noise floor takes a small random step each time. */
  metrics(): { backgroundNoise: number } {
    this.noise = Math.max(10, Math.min(40, this.noise + Math.round((Math.random() - 0.5) * 4)));
    return { backgroundNoise: this.noise };
  }
}
