import { isoFromLocal } from '../../src/datetime.js';
import { text } from '../../resolvers/scalars.js';
import type { NuveqUserData } from './models.js';

/** The GraphQL type NamedRef (written here: the generated types import this file). */
interface NamedRef {
  id: string;
  name: string | null;
}

function ref(id: string | number | null | undefined, name: string | null | undefined): NamedRef | null {
  const key = text(id);
  return key === null ? null : { id: key, name: text(name) };
}

/**
 * A user as the datasource returns it: the vendor's data, the id asked for and the zone its dates
 * are in, with each field of the GraphQL type as a getter. A field that is a plain property read
 * is inlined by graphql-jit (no resolver call, resolve info or closures per field) and read by
 * graphql-js' default resolver; each is computed only when a query asks for it, as a resolver was.
 */
export class NuveqUserRecord {
  // Object fields are read once each: graphql-jit reads an object field's source for its null
  // check, its error check and each subfield (four times for `department { id name }`).
  #department: NamedRef | null | undefined;
  #post: NamedRef | null | undefined;
  #role: NamedRef | null | undefined;

  constructor(
    readonly userId: string,
    readonly data: NuveqUserData,
    readonly timeZone: string,
  ) {}

  get id(): string {
    return `nuveq:${this.userId}`;
  }

  get vendor(): 'NUVEQ' {
    return 'NUVEQ';
  }

  get email(): string | null {
    return text(this.data.email);
  }

  get name(): string | null {
    return text(this.data.name);
  }

  get phone(): string | null {
    return text(this.data.phone);
  }

  get photoUrl(): string | null {
    return text(this.data.photo);
  }

  get staffNumber(): string | null {
    return text(this.data.staff_number);
  }

  get gender(): string | null {
    return text(this.data.gender);
  }

  get lastSeenAt(): string | null {
    return isoFromLocal(this.data.last_seen_at, this.timeZone);
  }

  get expiresAt(): string | null {
    return isoFromLocal(this.data.expires_at, this.timeZone);
  }

  get department(): NamedRef | null {
    if (this.#department === undefined) this.#department = ref(this.data.department_id, this.data.department_name);
    return this.#department;
  }

  get post(): NamedRef | null {
    if (this.#post === undefined) this.#post = ref(this.data.post_id, this.data.post_name);
    return this.#post;
  }

  get role(): NamedRef | null {
    if (this.#role === undefined) this.#role = ref(this.data.role_id, this.data.role_name);
    return this.#role;
  }

  get accessGroupDescription(): string | null {
    return text(this.data.access_group_1_description);
  }
}
