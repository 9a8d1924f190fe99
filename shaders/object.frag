#version 330 core
// glTF 2.0 metallic-roughness shading (the spec's appendix B BRDF) in linear light; colour
// textures (base, emissive) are sRGB textures decoded by the sampler, and the result is
// encoded to sRGB here because the render target stores sRGB values.
//   BRDF: F = F0 + (1 - F0)(1 - V.H)^5, F0 = mix(0.04, base, metallic);
//         diffuse = (1 - F) base (1 - metallic) / pi;
//         specular = F D Vis, D GGX (alpha = roughness^2), Vis the height-correlated Smith term.
// Lights. By default the face's light estimated from the camera frame (arfx.render.lighting;
// where too little skin is seen, the studio light below in the same form, lighting.studio_light):
// diffuse from second-order spherical harmonics (u_sh, camera space, already divided by pi:
// base x irradiance(n) is the diffuse colour), a punctual key light (u_key_direction,
// u_key_strength, specular only: its diffuse part is in the harmonics), and image-based
// specular: the frame (u_environment) in the reflected direction, blending towards the
// harmonics' light in that direction as roughness grows, weighted by an analytic fit of the
// split-sum environment BRDF with multiple scattering (indirect_specular). FIXED_LIGHT (the
// renderer's lighting "fixed"; a define, so the other path costs no pixel): the neutral
// studio light, a key and a fill directional light and a uniform ambient of AMBIENT (diffuse
// and, through the same environment BRDF, specular).
// Occlusion darkens only the ambient/image-based parts; emissive is added on top.
// Variants: each map's code is compiled only with its define (BASE_MAP, METALLIC_ROUGHNESS_MAP,
// NORMAL_MAP, OCCLUSION_MAP, EMISSIVE_MAP; arfx.effects.object3d picks them per mesh), since
// llvmpipe runs both sides of a branch and the maps a material lacks would cost every pixel.
// So are the material's kind: ALPHA_MASK (the discard: any shader that can discard makes
// llvmpipe test depth after shading, so hidden pixels of every other mesh would be shaded too),
// ALPHA_BLEND (the alpha the highlights keep), UNLIT, and REFLECTIONS (the frame's reflection,
// only for surfaces where it shows: metals and glossy ones, arfx.effects.object3d.shows_reflections;
// a rough dielectric reflects the harmonics' light alone, as the blend below gives it from a
// roughness of 0.8 up, and its ~4% Fresnel reflectance leaves the difference unseen).
#if defined(BASE_MAP) || defined(METALLIC_ROUGHNESS_MAP) || defined(NORMAL_MAP) || defined(OCCLUSION_MAP) \
    || defined(EMISSIVE_MAP)
#define ANY_MAP
#endif
in vec3 v_position;
in vec3 v_normal;
in vec4 v_color;
#ifdef ANY_MAP
in vec2 v_uv;
in vec2 v_uv1;
#endif
#ifdef NORMAL_MAP
in vec4 v_tangent;
#endif
uniform vec4 u_base_color;      // linear RGBA (glTF baseColorFactor)
uniform float u_metallic;
uniform float u_roughness;
uniform vec3 u_emissive;        // linear, emissive strength included
uniform float u_alpha_cutoff;   // ALPHA_MASK
// Maps: 0 base colour, 1 metallic-roughness, 2 normal, 3 occlusion, 4 emissive.
uniform bool u_has_texture;     // base colour
uniform sampler2D u_texture;
uniform sampler2D u_metallic_roughness;
uniform sampler2D u_normal_map;
uniform sampler2D u_occlusion;
uniform sampler2D u_emissive_map;
uniform mat3 u_uv_transform[5];  // KHR_texture_transform
uniform int u_uv_set[5];         // TEXCOORD_0 or _1
uniform bvec2 u_mirror[5];       // mirrored repeat on u, v
uniform float u_map_scale[5];    // normal scale, occlusion strength
uniform vec3 u_sh[9];           // irradiance over 1, x, y, z, xy, yz, 3z^2-1, xz, x^2-y^2
uniform vec3 u_key_direction;   // camera space, towards the light
uniform float u_key_strength;
uniform sampler2D u_environment; // the frame at 1/16 size (sRGB values)
out vec4 f_color;

const float PI = 3.14159265;
const vec3 KEY_DIR = normalize(vec3(-0.4, 0.6, 0.7));   // camera space, towards the light
const vec3 FILL_DIR = normalize(vec3(0.6, -0.1, 0.5));
const vec3 AMBIENT = vec3(0.22);

vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

vec3 irradiance(vec3 n) {
    vec3 e = u_sh[0] + u_sh[1] * n.x + u_sh[2] * n.y + u_sh[3] * n.z
        + u_sh[4] * (n.x * n.y) + u_sh[5] * (n.y * n.z) + u_sh[6] * (3.0 * n.z * n.z - 1.0)
        + u_sh[7] * (n.x * n.z) + u_sh[8] * (n.x * n.x - n.y * n.y);
    return max(e, vec3(0.0));
}

#ifdef ANY_MAP
vec2 map_uv(int i) {
    vec2 uv = u_uv_set[i] == 1 ? v_uv1 : v_uv;
    uv = (u_uv_transform[i] * vec3(uv, 1.0)).xy;
    // Mirrored repeat: fold into 0..1 every other period.
    vec2 folded = 1.0 - abs(mod(uv, 2.0) - 1.0);
    return vec2(u_mirror[i].x ? folded.x : uv.x, u_mirror[i].y ? folded.y : uv.y);
}
#endif

// GGX normal distribution and the height-correlated Smith visibility (spec appendix B).
float distribution(float n_h, float alpha) {
    float a2 = alpha * alpha;
    float d = n_h * n_h * (a2 - 1.0) + 1.0;
    return a2 / (PI * d * d);
}

float visibility(float n_l, float n_v, float alpha) {
    float a2 = alpha * alpha;
    float gl = n_v * sqrt(n_l * n_l * (1.0 - a2) + a2);
    float gv = n_l * sqrt(n_v * n_v * (1.0 - a2) + a2);
    float g = gl + gv;
    return g > 0.0 ? 0.5 / g : 0.0;
}

// Radiance reflected towards the viewer from a directional light of irradiance `strength`
// (perpendicular to it) from `l`: (diffuse + specular BRDF) x strength x N.L.
void punctual(vec3 n, vec3 view, vec3 l, float strength, vec3 c_diff, vec3 f0, float alpha,
              inout vec3 diffuse, inout vec3 specular) {
    float n_l = max(dot(n, l), 0.0);
    if (n_l <= 0.0) return;
    vec3 h = normalize(l + view);
    float n_v = max(dot(n, view), 1e-4);
    float v_h = max(dot(view, h), 0.0);
    vec3 fresnel = f0 + (vec3(1.0) - f0) * pow(1.0 - v_h, 5.0);
    // strength is the light's irradiance x pi, so that a white Lambert surface facing it
    // shows `strength` (the older Lambert model's scale).
    diffuse += strength * n_l * (vec3(1.0) - fresnel) * c_diff;
    specular += strength * n_l * PI * fresnel * distribution(max(dot(n, h), 0.0), alpha)
        * visibility(n_l, n_v, alpha);
}

// Analytic fit of the split-sum environment BRDF: (scale, bias) on F0 for image-based specular.
vec2 environment_ab(float roughness, float n_v) {
    const vec4 c0 = vec4(-1.0, -0.0275, -0.572, 0.022);
    const vec4 c1 = vec4(1.0, 0.0425, 1.04, -0.04);
    vec4 r = roughness * c0 + c1;
    float a004 = min(r.x * r.x, exp2(-9.28 * n_v)) * r.x + r.y;
    return vec2(-1.04, 1.04) * a004 + r.zw;
}

// Indirect specular split into single scattering (weights the reflected radiance) and the
// multiple scattering single-scattering GGX loses (weights the irradiance), after
// Fdez-Aguera 2019: rough metals keep their energy. total = single + multi also dims the
// indirect diffuse (energy that left as specular).
void indirect_specular(vec3 f0, float roughness, float n_v, out vec3 single, out vec3 multi) {
    vec2 ab = environment_ab(roughness, n_v);
    single = f0 * ab.x + ab.y;
    float ems = 1.0 - (ab.x + ab.y);
    vec3 f_avg = f0 + (vec3(1.0) - f0) / 21.0;
    multi = ems * single * f_avg / (vec3(1.0) - ems * f_avg);
}

void main() {
    vec4 base = u_base_color * v_color;
#ifdef BASE_MAP
    if (u_has_texture) {
        base *= texture(u_texture, map_uv(0));
    }
#endif
#ifdef ALPHA_MASK
    if (base.a < u_alpha_cutoff) {
        discard;
    }
#endif
#ifdef ALPHA_BLEND
    float alpha = base.a;
#else
    float alpha = 1.0;
#endif
#ifdef UNLIT
    f_color = vec4(linear_to_srgb(base.rgb), alpha);
#else
    float metallic = u_metallic;
    float roughness = u_roughness;
#ifdef METALLIC_ROUGHNESS_MAP
    vec4 mr = texture(u_metallic_roughness, map_uv(1));
    roughness *= mr.g;
    metallic *= mr.b;
#endif
    roughness = clamp(roughness, 0.03, 1.0);
    metallic = clamp(metallic, 0.0, 1.0);
    float alpha_r = roughness * roughness;

    vec3 view = normalize(-v_position);
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) {
        n = -n;
    }
#ifdef NORMAL_MAP
    vec3 t;
    float handedness;
    if (v_tangent.w != 0.0) {
        t = v_tangent.xyz;
        handedness = v_tangent.w;
    } else {
        // No tangents: from the screen-space derivatives of position and uv.
        vec2 uv = map_uv(2);
        vec3 dp_dx = dFdx(v_position), dp_dy = dFdy(v_position);
        vec2 duv_dx = dFdx(uv), duv_dy = dFdy(uv);
        t = duv_dy.t * dp_dx - duv_dx.t * dp_dy;
        handedness = 1.0;
    }
    t = normalize(t - n * dot(n, t));
    vec3 b = cross(n, t) * handedness;
    if (!gl_FrontFacing) {
        b = -b;  // the flipped normal mirrors the frame
    }
    vec3 m = texture(u_normal_map, map_uv(2)).xyz * 2.0 - 1.0;
    m.xy *= u_map_scale[2];
    n = normalize(mat3(t, b, n) * m);
#endif
    float occlusion = 1.0;
#ifdef OCCLUSION_MAP
    occlusion = 1.0 + u_map_scale[3] * (texture(u_occlusion, map_uv(3)).r - 1.0);
#endif
    vec3 emissive = u_emissive;
#ifdef EMISSIVE_MAP
    emissive *= texture(u_emissive_map, map_uv(4)).rgb;
#endif

    vec3 c_diff = base.rgb * (1.0 - metallic);
    vec3 f0 = mix(vec3(0.04), base.rgb, metallic);
    float n_v = max(dot(n, view), 1e-4);
    vec3 single, multi;
    indirect_specular(f0, roughness, n_v, single, multi);
    vec3 total = single + multi;
    float indirect_diffuse = 1.0 - max(max(total.r, total.g), total.b);
    vec3 diffuse = vec3(0.0);
    vec3 specular = vec3(0.0);
#ifndef FIXED_LIGHT
    {
        vec3 e = irradiance(n);
        diffuse = c_diff * e * indirect_diffuse * occlusion;
        vec3 no_diffuse = vec3(0.0);
        punctual(n, view, u_key_direction, u_key_strength, vec3(0.0), f0, alpha_r, no_diffuse, specular);
        // Reflections of the frame: the reflected ray's direction picks a point of a tiny,
        // blurry copy of the frame; rough surfaces see the harmonics' light instead.
        vec3 r = reflect(-view, n);
        vec2 uv = vec2(0.5 + 0.5 * r.x, 0.5 - 0.5 * r.y);
        // Half strength: the frame shows what is in front of the person, not what they face.
        // (an sRGB texture: the sampler decodes it)
#ifdef REFLECTIONS
        vec3 environment = 0.5 * texture(u_environment, uv).rgb;
        vec3 prefiltered = mix(environment, irradiance(r), smoothstep(0.0, 0.8, roughness));
#else
        vec3 prefiltered = irradiance(r);
#endif
        specular += (prefiltered * single + e * multi) * occlusion;
    }
#else
    diffuse = AMBIENT * c_diff * indirect_diffuse * occlusion;
    punctual(n, view, KEY_DIR, 0.95, c_diff, f0, alpha_r, diffuse, specular);
    punctual(n, view, FILL_DIR, 0.35, c_diff, f0, alpha_r, diffuse, specular);
    specular += AMBIENT * total * occlusion;
#endif
#ifdef ALPHA_BLEND
    // A reflection is not dimmed by the surface's transparency: glossy lenses keep
    // their highlights (otherwise they would vanish with the alpha).
    float shine = max(max(specular.r, specular.g), specular.b);
    alpha = clamp(alpha + shine, 0.0, 1.0);
#endif
    f_color = vec4(linear_to_srgb(diffuse + specular + emissive), alpha);
#endif  // UNLIT
}
